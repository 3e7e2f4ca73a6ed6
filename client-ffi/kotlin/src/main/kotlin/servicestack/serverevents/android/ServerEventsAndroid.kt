package servicestack.serverevents.android

/**
 * Android start-up: gives the app's `Context` to the TLS certificate verifier inside
 * `libclient_ffi` (rustls-platform-verifier), which checks `https` certificates against the
 * Android trust store through JNI. Call it once, before the first client connects, for example
 * in `Application.onCreate`:
 *
 * ```
 * class App : Application() {
 *     override fun onCreate() {
 *         super.onCreate()
 *         ServerEventsAndroid.initialize(this)
 *     }
 * }
 * ```
 *
 * Android only: the native method exists only in Android builds of the library (on the JVM,
 * calling it throws `UnsatisfiedLinkError`). The app also needs the verifier's small Kotlin
 * component (see client-ffi/README.md, "Android").
 */
object ServerEventsAndroid {
    init {
        System.loadLibrary("client_ffi")
    }

    /**
     * Initialises the TLS verifier with [context], an `android.content.Context` (typed `Any` so
     * this file compiles without the Android SDK). A failure is thrown as a `RuntimeException`.
     */
    @JvmStatic
    external fun initialize(context: Any)
}
