// The shared test helpers (SeededRandom, TestSeed, SortedModel, TempDir,
// utf8) live in the StrataTestSupport target; every file of this suite sees them.
@_exported import StrataTestSupport
