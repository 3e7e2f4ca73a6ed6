// The four test receivers of conformance-tests/scenarios/FORMAT.md, as JavaScript classes.
//
// Each client gets its own set of classes (so a singleton resolver keeps one instance per client
// and class) whose members record `receiver` events into that client's log.

/** The receiver classes for one client; `record(kind, fields)` appends to its log. */
export function makeReceivers(record) {
  const instances = new Map();

  // `calls` lives in the instance: it counts only the messages delivered to this very object, so
  // a resolver that hands out fresh instances keeps it at 1.
  function recordCall(receiver, instance, member, value, request) {
    instance.__calls += 1;
    record("receiver", {
      receiver,
      member,
      value: value === undefined ? null : value,
      selector: request?.selector ?? null,
      op: request?.op ?? null,
      target: request?.target ?? null,
      cssSelector: request?.cssSelector ?? null,
      instance: instance.__instance,
      calls: instance.__calls,
    });
  }

  /** Numbered from 1 per class, in creation order (FORMAT.md). */
  class Numbered {
    constructor() {
      const number = (instances.get(new.target) ?? 0) + 1;
      instances.set(new.target, number);
      Object.defineProperty(this, "__instance", { value: number, enumerable: false });
      Object.defineProperty(this, "__calls", { value: 0, enumerable: false, writable: true });
    }
  }

  class TestNamedReceiver extends Numbered {
    FooMethod(value, request) {
      recordCall("TestNamedReceiver", this, "FooMethod", value, request);
    }
    BarMethod(value, request) {
      recordCall("TestNamedReceiver", this, "BarMethod", value, request);
    }
    set QuxSetter(value) {
      recordCall("TestNamedReceiver", this, "QuxSetter", value, this.request);
    }
    noSuchMethod(target, request) {
      recordCall("TestNamedReceiver", this, `noSuchMethod:${target}`, request.body, request);
    }
  }

  class TestGlobalReceiver extends Numbered {
    CustomType(value, request) {
      recordCall("TestGlobalReceiver", this, "CustomType", value, request);
    }
    set SetterType(value) {
      recordCall("TestGlobalReceiver", this, "SetterType", value, this.request);
    }
    noSuchMethod(target, request) {
      recordCall("TestGlobalReceiver", this, `noSuchMethod:${target}`, request.body, request);
    }
  }

  class TestJavaScriptReceiver extends Numbered {
    Chat(value, request) {
      recordCall("TestJavaScriptReceiver", this, "Chat", value, request);
    }
    Announce(value, request) {
      recordCall("TestJavaScriptReceiver", this, "Announce", value, request);
    }
    Toggle() {
      recordCall("TestJavaScriptReceiver", this, "Toggle", null, this.request);
    }
    BackgroundImage(value, request) {
      recordCall("TestJavaScriptReceiver", this, "BackgroundImage", value, request);
    }
    noSuchMethod(target, request) {
      recordCall("TestJavaScriptReceiver", this, `noSuchMethod:${target}`, request.body, request);
    }
  }

  /** Shared by every TestContainerReceiver: injected by the resolver below. */
  class Dependency {
    Record(receiver, value, request) {
      recordCall("TestContainerReceiver", receiver, "Dependency.Record", value, request);
    }
  }
  const dependency = new Dependency();

  class TestContainerReceiver extends Numbered {
    constructor(injected) {
      super();
      if (!(injected instanceof Dependency)) throw new Error("TestContainerReceiver needs its Dependency");
      this.dependency = injected;
    }
    Custom(value, request) {
      this.dependency.Record(this, value, request);
    }
    Setter(value, request) {
      this.dependency.Record(this, value, request);
    }
  }

  const classes = { TestNamedReceiver, TestGlobalReceiver, TestJavaScriptReceiver, TestContainerReceiver };

  /** A resolver (`"new"` or `"singleton"`) that injects the dependency, as an IoC container would. */
  function resolver(kind) {
    const singletons = new Map();
    const create = (Class) => (Class === TestContainerReceiver ? new Class(dependency) : new Class());
    return {
      tryResolve(Class) {
        if (kind !== "singleton") return create(Class);
        if (!singletons.has(Class)) singletons.set(Class, create(Class));
        return singletons.get(Class);
      },
    };
  }

  return { classes, resolver };
}
