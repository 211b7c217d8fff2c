import Logging
import PostgresNIO
import StrataMessageCore

/// The store's `LISTEN` on its channel, on one connection of the store's
/// client for as long as the store is open: an arrival notification opens
/// the queue's `ArrivalGate`, a catalog notification invalidates the
/// `CatalogCache`. When the connection is lost it reconnects (with a
/// growing pause), and meanwhile the cache is off and waiters look on their
/// own every 100 ms.
enum NotificationListener {
    static func start(link: PostgresLink, channel: String, origin: String, cache: CatalogCache, gate: ArrivalGate,
                      logger: Logger) -> Task<Void, Never> {
        Task {
            var pause = Duration.milliseconds(50)
            while !Task.isCancelled {
                let (client, generation) = link.client
                do {
                    try await client.withConnection { c in
                        try await c.listen(on: channel) { notifications in
                            cache.setListening(true)
                            gate.openAll()  // whatever arrived while nobody listened
                            pause = .milliseconds(50)
                            for try await n in notifications {
                                if n.payload == "c" {
                                    cache.invalidate()
                                } else if n.payload.hasPrefix("q"), let colon = n.payload.firstIndex(of: ":") {
                                    // Our own adds woke our waiters already.
                                    let from = n.payload[n.payload.index(after: n.payload.startIndex)..<colon]
                                    if from != origin { gate.open(String(n.payload[n.payload.index(after: colon)...])) }
                                }
                            }
                        }
                    }
                } catch {
                    if !Task.isCancelled {
                        logger.debug("PostgreSQL notification listener lost its connection: \(PostgresErrorMapping.map(error, "listen", secret: link.secret))")
                        link.connectionLost(generation)
                    }
                }
                cache.setListening(false)
                gate.openAll()
                if Task.isCancelled { break }
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }
}
