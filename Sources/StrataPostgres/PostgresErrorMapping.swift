import Foundation
import PostgresNIO
import StrataMessageCore

/// PostgreSQL and postgres-nio errors as the message layer's kinds, by
/// SQLSTATE class (Docs/message-store.md, "Errors"): connection loss, server
/// shutdown, serialization failures and deadlocks are `.unavailable`
/// (retryable); a full disk `.storageFull`; a unique violation
/// `.duplicateId`; data corruption `.corruption`; everything else keeps the
/// state and the server's text as context. Our own `MessageStoreError`s
/// thrown inside a transaction come back unwrapped. Messages never carry a
/// password.
enum PostgresErrorMapping {
    /// The SQLSTATE the store's functions raise when a lock token is not held.
    static let lockNotHeld = "ST001"

    /// `duplicate` is the kind of a unique violation: `.duplicateId` for
    /// the message store, `.duplicateKey` for the event store.
    static func map(_ error: any Error, _ context: String, secret: String?, duplicate: MessageStoreError.Kind = .duplicateId) -> any Error {
        if let t = error as? PostgresTransactionError {
            if let inner = t.closureError ?? t.commitError ?? t.beginError { return map(inner, context, secret: secret, duplicate: duplicate) }
        }
        if error is MessageStoreError || error is CancellationError { return error }
        func make(_ kind: MessageStoreError.Kind, _ text: String) -> MessageStoreError {
            MessageStoreError(kind, PostgresRedaction.redacted("PostgreSQL \(context): \(text)", secret: secret), underlying: error)
        }
        guard let p = error as? PSQLError else {
            // The pool's and NIO's channel and socket errors below the client:
            // the server is out of reach. Anything else (a caller's own error
            // thrown inside a transaction) passes unchanged.
            let name = String(reflecting: type(of: error))
            if ["ConnectionPoolError", "ChannelError", "IOError", "NIOConnectionError"].contains(where: name.contains) {
                return make(.unavailable, "\(error)")
            }
            return error
        }
        switch p.code {
        case .server:
            let state = p.serverInfo?[.sqlState] ?? ""
            let text = p.serverInfo?[.message] ?? "server error"
            return make(kind(sqlState: state, duplicate: duplicate), "\(text) (SQLSTATE \(state))")
        case .queryCancelled:
            if Task.isCancelled { return CancellationError() }
            return make(.unavailable, "the query was cancelled")
        case .poolClosed:
            return make(.closed, "the client is shut down")
        case .clientClosedConnection, .serverClosedConnection, .connectionError, .uncleanShutdown, .listenFailed, .unlistenFailed:
            let cause = p.underlying.map { "\($0)" } ?? "\(p.code)"
            return make(.unavailable, "connection lost or refused (\(cause))")
        case .messageDecodingFailure, .unexpectedBackendMessage, .invalidCommandTag:
            return make(.corruption, "unreadable server reply (\(p.code))")
        default:
            return make(.invalidArgument, "\(p.code)")
        }
    }

    /// Whether `error` means the server closed or lost the connection (a
    /// terminated backend, a server shutdown, a broken socket).
    static func connectionDropped(_ error: any Error) -> Bool {
        if let t = error as? PostgresTransactionError {
            return [t.beginError, t.closureError, t.commitError, t.rollbackError].contains { $0.map(connectionDropped) ?? false }
        }
        guard let p = error as? PSQLError else { return false }
        switch p.code {
        case .serverClosedConnection, .connectionError, .uncleanShutdown, .clientClosedConnection: return true
        case .server:
            let state = p.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("57P") || state.hasPrefix("08")
        default: return false
        }
    }

    /// The kind of a server error with SQLSTATE `state`.
    static func kind(sqlState state: String, duplicate: MessageStoreError.Kind = .duplicateId) -> MessageStoreError.Kind {
        switch state {
        case lockNotHeld: return .lockLost
        case "23505": return duplicate
        case "53100": return .storageFull
        case "XX001", "XX002": return .corruption
        case "58030": return .ioError
        case "25006": return .readOnly
        // Class 53 but a full disk: the server is short of memory or
        // connections for now (53000 is the class's generic code).
        case "40001", "40P01", "55P03", "53000", "53300", "53200", "57014": return .unavailable
        default:
            if state.hasPrefix("08") || state.hasPrefix("57P") { return .unavailable }
            return .invalidArgument
        }
    }
}
