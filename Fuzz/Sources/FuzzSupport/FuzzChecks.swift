import Foundation
import CFuzzDriver
import Logging
@testable import Strata

/// Ends the run with a message libFuzzer reports as a crash.
public func fuzzFailure(_ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError(message(), file: file, line: line)
}

/// A decoder may reject its input only with a `StrataError` of kind
/// `.corruption` (or `.invalidArgument` for a format newer than this build);
/// anything else is a finding.
public func expectRejection(_ error: any Error, _ what: String, allowing extra: Set<StrataError.Kind> = []) {
    guard let e = error as? StrataError else { fuzzFailure("\(what): threw a non-Strata error: \(error)") }
    guard e.kind == .corruption || e.kind == .invalidArgument || extra.contains(e.kind) else {
        fuzzFailure("\(what): rejected with \(e.kind), expected corruption: \(e)")
    }
}

/// A logger that drops everything, so damage reports do not flood the run.
public let silentLogger = Logger(label: "strata.fuzz") { _ in SwiftLogNoOpLogHandler() }

/// A file holding `bytes` in a fresh in-memory file system, open for reading.
public func readableFile(_ bytes: [UInt8], path: String = "/fuzz") -> (InMemoryFileSystem, any ReadableFile) {
    let fs = InMemoryFileSystem()
    do {
        let w = try fs.createFile(at: path)
        try w.append(bytes)
        try w.close()
        return (fs, try fs.openForReading(at: path))
    } catch {
        fuzzFailure("in-memory file system failed: \(error)")
    }
}

/// `bytes` as a real file under the temporary directory, opened through a
/// memory mapping (`POSIXFileSystem.openForMappedReading`), so decoders
/// read the mapping as they do with `Options.allowMmapReads`. One path per
/// process; the previous file is unlinked first, so a mapping still held
/// keeps its own bytes (rewriting the file in place under a mapping would
/// be a SIGBUS, not a finding).
public func mappedFile(_ bytes: [UInt8]) -> any ReadableFile {
    let fs = POSIXFileSystem()
    let path = NSTemporaryDirectory() + "strata-fuzz-\(ProcessInfo.processInfo.processIdentifier).sst"
    do {
        if fs.fileExists(at: path) { try fs.removeFile(at: path) }
        let w = try fs.createFile(at: path)
        try bytes.withUnsafeBytes { try w.append($0) }
        try w.close()
        return try fs.openForMappedReading(at: path)
    } catch {
        fuzzFailure("temporary file failed: \(error)")
    }
}

/// Writes each of `make()`'s inputs to `$STRATA_FUZZ_SEEDS/seed-NN` and
/// exits, when that variable is set. Called from `LLVMFuzzerInitialize`, so
/// every fuzzer can produce its own seed corpus from real encoders.
public func writeSeedsIfRequested(_ make: () throws -> [[UInt8]]) {
    guard let dir = ProcessInfo.processInfo.environment["STRATA_FUZZ_SEEDS"] else { return }
    do {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (i, seed) in try make().enumerated() {
            let path = dir + "/seed-" + String(format: "%02d", i)
            guard FileManager.default.createFile(atPath: path, contents: Data(seed)) else {
                fuzzFailure("cannot write \(path)")
            }
        }
    } catch {
        fuzzFailure("seed generation failed: \(error)")
    }
    // _exit: skip the leak check at exit, which reports the weak-reference
    // side tables of objects still alive as leaks (their pointers are
    // stored encoded, so LeakSanitizer cannot see them).
    _exit(0)
}

/// Runs libFuzzer with `body` as the test of one input, after writing the
/// seed corpus instead when `$STRATA_FUZZ_SEEDS` is set. Returns only when
/// libFuzzer stops without a finding (a finding ends the process).
public func runFuzzer(seeds: () throws -> [[UInt8]], _ body: @escaping ([UInt8]) -> Void) -> Never {
    writeSeedsIfRequested(seeds)
    fuzzBody = body
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        fuzzBody!(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
    exit(status)
}

/// The test libFuzzer calls; set once, before libFuzzer starts.
nonisolated(unsafe) private var fuzzBody: (([UInt8]) -> Void)?
