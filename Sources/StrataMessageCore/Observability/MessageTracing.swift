import Tracing

/// Carries a trace context in a message's headers, so a trace continues
/// across a queue hop: the producer's `add` injects the current context
/// (whatever keys the installed tracer uses — `traceparent`/`tracestate`
/// for W3C tracers), the consumer's `receive` extracts it and starts its
/// spans as children of the producer's span.
public enum MessageTracing {
    /// Writes into message headers.
    public struct HeadersInjector: Injector {
        /// An injector.
        public init() {}
        public func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    /// Reads from message headers.
    public struct HeadersExtractor: Extractor {
        /// An extractor.
        public init() {}
        public func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }

    /// `message` with the trace context of `context` added to its headers.
    public static func inject(_ context: ServiceContext, into message: Message, using tracer: any Tracer) -> Message {
        var m = message
        tracer.inject(context, into: &m.headers, using: HeadersInjector())
        return m
    }

    /// The trace context a producer left in `message`'s headers (layered on
    /// `base`, the consumer's own context); `base` unchanged if there is none.
    public static func context(of message: Message, base: ServiceContext = .topLevel, using tracer: any Tracer) -> ServiceContext {
        var context = base
        tracer.extract(message.headers, into: &context, using: HeadersExtractor())
        return context
    }
}
