import ArgumentParser

/// A failure a command reports: one line on stderr and an exit code (1 for
/// a failed operation, 64 for bad usage found after parsing).
struct CLIError: Error, CustomStringConvertible {
    let message: String
    let exitCode: Int32

    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    /// A usage error (exit code 64, as ArgumentParser's own).
    static func usage(_ message: String) -> CLIError { CLIError(message, exitCode: ExitCode.validationFailure.rawValue) }

    var description: String { message }
}

/// Runs `body`, wrapping any non-CLI error into a one-line failure that
/// names the operation.
func failing<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let e as CLIError { throw e } catch let e as ExitCode { throw e } catch {
        throw CLIError("\(what): \(error)")
    }
}

/// Synchronous `failing`.
func failingSync<T>(_ what: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as CLIError { throw e } catch let e as ExitCode { throw e } catch {
        throw CLIError("\(what): \(error)")
    }
}
