import Foundation

/// Reads export records from a file one at a time (JSON Lines or CSV),
/// holding one 256 KiB chunk and one record in memory. A malformed record
/// is `.corruption` naming the file and line.
final class ExportRecordReader {
    let path: String
    let format: MessageExport.Format
    let size: UInt64
    private let handle: FileHandle
    private var chunk: [UInt8] = []
    private var position = 0
    private var atEnd = false
    private(set) var bytesRead: UInt64 = 0
    /// Line of the record returned last (its first line, for a CSV record spanning several).
    private(set) var line = 0
    private var nextLine = 1
    private let json = JSONDecoder()
    private var sawHeader = false

    init(path: String, format: MessageExport.Format) throws {
        guard let h = FileHandle(forReadingAtPath: path) else { throw MessageStoreError(.invalidArgument, "cannot read \(path)") }
        self.path = path
        self.format = format
        self.handle = h
        self.size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
    }

    deinit { try? handle.close() }

    private func refill() throws -> Bool {
        if atEnd { return false }
        let data: Data?
        do { data = try handle.read(upToCount: 1 << 18) } catch {
            throw MessageStoreError(.ioError, "reading \(path): \(error)")
        }
        guard let data, !data.isEmpty else {
            atEnd = true
            return false
        }
        chunk = Array(data)
        position = 0
        return true
    }

    /// The next byte, or nil at the end of the file.
    private func byte() throws -> UInt8? {
        if position == chunk.count, try !refill() { return nil }
        let b = chunk[position]
        position += 1
        bytesRead += 1
        return b
    }

    private func corrupt(_ why: String) -> MessageStoreError {
        MessageStoreError(.corruption, "\(path) line \(line): \(why)")
    }

    /// The next record, or nil at the end of the file.
    func next() throws -> MessageExport.Record? {
        switch format {
        case .jsonl:
            while let bytes = try nextJSONLine() {
                if bytes.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
                do { return try json.decode(MessageExport.Record.self, from: Data(bytes)) } catch {
                    throw corrupt("not an export record (\(error))")
                }
            }
            return nil
        case .csv:
            while let fields = try nextCSVRow() {
                if !sawHeader {
                    sawHeader = true
                    guard fields == CSVColumns.all else {
                        throw corrupt("the header row must be \(CSVColumns.all.joined(separator: ","))")
                    }
                    continue
                }
                if fields == [""] { continue }
                return try record(fromCSV: fields)
            }
            if !sawHeader { throw MessageStoreError(.corruption, "\(path): empty, no CSV header row") }
            return nil
        }
    }

    private func nextJSONLine() throws -> [UInt8]? {
        var bytes: [UInt8] = []
        line = nextLine
        while let b = try byte() {
            if b == UInt8(ascii: "\n") {
                nextLine += 1
                return bytes
            }
            bytes.append(b)
        }
        return bytes.isEmpty ? nil : bytes
    }

    /// One RFC 4180 row: quoted fields may hold commas, quotes (doubled)
    /// and line breaks.
    private func nextCSVRow() throws -> [String]? {
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false, wasQuoted = false, any = false
        line = nextLine
        while let b = try byte() {
            any = true
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if position == chunk.count { _ = try refill() }
                    if position < chunk.count && chunk[position] == UInt8(ascii: "\"") {
                        position += 1
                        bytesRead += 1
                        field.append(b)
                    } else {
                        quoted = false
                    }
                } else {
                    if b == UInt8(ascii: "\n") { nextLine += 1 }
                    field.append(b)
                }
                continue
            }
            switch b {
            case UInt8(ascii: "\""):
                guard field.isEmpty && !wasQuoted else { throw corrupt("a quote inside an unquoted field") }
                quoted = true
                wasQuoted = true
            case UInt8(ascii: ","):
                fields.append(try text(field))
                field = []
                wasQuoted = false
            case UInt8(ascii: "\n"):
                nextLine += 1
                if field.last == UInt8(ascii: "\r") && !wasQuoted { field.removeLast() }
                fields.append(try text(field))
                return fields
            case UInt8(ascii: "\r") where wasQuoted:
                continue
            default:
                guard !wasQuoted else { throw corrupt("text after a closing quote") }
                field.append(b)
            }
        }
        if quoted { throw corrupt("a quoted field is not closed before the end of the file") }
        guard any else { return nil }
        fields.append(try text(field))
        return fields
    }

    private func text(_ bytes: [UInt8]) throws -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else { throw corrupt("a field is not UTF-8") }
        return s
    }

    private func record(fromCSV f: [String]) throws -> MessageExport.Record {
        guard f.count == CSVColumns.all.count else {
            throw corrupt("\(f.count) fields where the header has \(CSVColumns.all.count)")
        }
        func number(_ i: Int) throws -> Double? {
            if f[i].isEmpty { return nil }
            guard let v = Double(f[i]), v.isFinite else { throw corrupt("\(CSVColumns.all[i]) '\(f[i])' is not a number") }
            return v
        }
        var r = MessageExport.Record(kind: f[0])
        switch f[0] {
        case "message":
            r.id = f[1]
            r.queue = f[2]
            r.timestamp = try number(3)
            r.scheduledAt = try number(4)
            r.expiresAt = try number(5)
            if !f[6].isEmpty {
                guard let n = Int(f[6]), n >= 0 else { throw corrupt("deliveryCount '\(f[6])' is not a count") }
                r.deliveryCount = n
            }
            if !f[7].isEmpty {
                do { r.headers = try json.decode([String: String].self, from: Data(f[7].utf8)) } catch {
                    throw corrupt("headers are not a JSON object of strings (\(error))")
                }
            }
            r.payload = f[8]
        case "queue", "topic":
            r.name = f[2]
            do {
                let d = try json.decode(EntityDefinition.self, from: Data(f[9].utf8))
                r.settings = d.settings
                r.subscriptions = d.subscriptions
            } catch {
                throw corrupt("definition of \(f[0]) \(f[2]) is not valid (\(error))")
            }
        case "window":
            r.id = f[1]
            r.expiresAt = try number(5)
        default:
            break  // reported by the importer with the line
        }
        return r
    }
}
