import Logging

extension Logger {
    /// The logger to hand postgres-nio with each statement: this one when
    /// it shows debug lines (postgres-nio logs statements at debug and
    /// trace), else one that drops everything. postgres-nio adds the
    /// connection's id to the logger's metadata for every statement, and a
    /// `StreamLogHandler` re-renders its metadata on every change: about
    /// 2 % of the client's CPU at 64 clients for lines never printed.
    var forStatements: Logger {
        logLevel <= .debug ? self : Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    }
}
