// The protocol, `Message`, the in-memory store, export/import and the
// broker policy live in `StrataMessageCore`, which the SQLite and PostgreSQL
// backends build on without the engine. `import StrataMessageStore` keeps
// giving a user all of it together with the engine-backed store.
@_exported import StrataMessageCore
