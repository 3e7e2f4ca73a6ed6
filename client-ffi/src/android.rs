//! Android start-up: hands the app's `Context` to `rustls-platform-verifier`, which reqwest uses
//! to check TLS certificates against the Android trust store (through JNI). Without it, the
//! first `https` request panics inside the verifier.
//!
//! Kotlin declares the native method (see README.md, "Android"):
//!
//! ```kotlin
//! package servicestack.serverevents.android
//!
//! object ServerEventsAndroid {
//!     init { System.loadLibrary("client_ffi") }
//!     @JvmStatic external fun initialize(context: android.content.Context)
//! }
//! ```

use jni::EnvUnowned;
use jni::errors::ThrowRuntimeExAndDefault;
use jni::jni_mangle;
use jni::objects::{JClass, JObject};

/// `ServerEventsAndroid.initialize(context)`: call once, before the first client connects
/// (for example in `Application.onCreate`). A failure is thrown as a `RuntimeException`.
#[jni_mangle("servicestack.serverevents.android.ServerEventsAndroid")]
pub fn initialize<'caller>(
    mut env: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    context: JObject<'caller>,
) {
    env.with_env(|env| rustls_platform_verifier::android::init_with_env(env, context))
        .resolve::<ThrowRuntimeExAndDefault>();
}
