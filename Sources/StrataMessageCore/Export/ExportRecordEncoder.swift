import Foundation

/// Turns export records into the bytes of one line (JSON Lines) or one CSV row.
struct ExportRecordEncoder {
    let format: MessageExport.Format
    private let json: JSONEncoder

    init(format: MessageExport.Format) {
        self.format = format
        json = JSONEncoder()
        json.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    /// The CSV header row; nil for JSON Lines.
    var header: [UInt8]? {
        format == .csv ? Array((CSVColumns.all.joined(separator: ",") + "\n").utf8) : nil
    }

    func encode(_ r: MessageExport.Record) throws -> [UInt8] {
        switch format {
        case .jsonl:
            return Array(try json.encode(r)) + [UInt8(ascii: "\n")]
        case .csv:
            var definition = ""
            if r.kind == "queue" || r.kind == "topic" {
                definition = String(decoding: try json.encode(EntityDefinition(settings: r.settings, subscriptions: r.subscriptions)), as: UTF8.self)
            }
            let headers = try r.headers.map { String(decoding: try json.encode($0), as: UTF8.self) } ?? ""
            let fields: [String] = [
                r.kind, r.id ?? "", r.kind == "message" ? (r.queue ?? "") : (r.name ?? ""),
                r.timestamp.map(number) ?? "", r.scheduledAt.map(number) ?? "", r.expiresAt.map(number) ?? "",
                r.deliveryCount.map(String.init) ?? "", headers, r.payload ?? "", definition,
            ]
            return Array((fields.map(CSV.quoted).joined(separator: ",") + "\n").utf8)
        }
    }

    /// A time as JSON writes it, so both formats carry the same digits.
    private func number(_ v: Double) -> String {
        String(decoding: (try? json.encode(v)) ?? Data("\(v)".utf8), as: UTF8.self)
    }
}

/// The CSV columns, in order.
enum CSVColumns {
    static let all = ["kind", "id", "queue", "timestamp", "scheduledAt", "expiresAt", "deliveryCount", "headers", "payload", "definition"]
}

/// The `definition` column of a queue or topic row.
struct EntityDefinition: Codable {
    var settings: QueueSettings?
    var subscriptions: [MessageExport.SubscriptionRecord]?
}

/// RFC 4180 quoting.
enum CSV {
    /// `field` as CSV: quoted (with doubled quotes) when it holds a comma,
    /// quote, CR or LF, else as is.
    static func quoted(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
