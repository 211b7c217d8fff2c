import Strata

extension MessageStoreError {
    /// The message-layer error for an engine error, keeping it as
    /// `underlying`: ENOSPC (the engine reports it as an I/O error whose
    /// text is the OS's "No space left on device") is `.storageFull`, other
    /// I/O `.ioError`, a held database lock `.unavailable`, and corruption,
    /// read-only, closed, not-found and invalid-argument keep their names.
    init(engine e: StrataError) {
        let kind: Kind
        switch e.kind {
        case .corruption: kind = .corruption
        case .ioError: kind = e.message.contains("No space left on device") ? .storageFull : .ioError
        case .invalidArgument: kind = .invalidArgument
        case .notFound: kind = .notFound
        case .busy: kind = .unavailable
        case .readOnly: kind = .readOnly
        case .closed: kind = .closed
        }
        self.init(kind, e.message, underlying: e)
    }
}

/// Runs `body`, rethrowing engine errors as `MessageStoreError`s (every
/// other error unchanged), so the LSM store speaks the same error
/// vocabulary as the other backends.
@inline(__always)
func mappingEngineErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as StrataError { throw MessageStoreError(engine: e) }
}

/// `mappingEngineErrors` for async work.
@inline(__always)
func mappingEngineErrors<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let e as StrataError { throw MessageStoreError(engine: e) }
}
