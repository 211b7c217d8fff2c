import Strata

extension ColumnFamilyOptions {
    /// The family options a store derives from its engine options: the
    /// write buffer, compression, block size and bloom filter of `options`
    /// (what a user sets in `MessageStoreOptions.engine` or
    /// `EventStoreOptions`), so they govern the families that hold the data
    /// and not only the unused default family.
    package init(inheriting options: Options) {
        self.init(compression: options.compression, blockSize: options.blockSize,
                  bloomBitsPerKey: options.bloomBitsPerKey, writeBufferSize: options.writeBufferSize)
    }
}

extension Database {
    /// The family `name`, created with `options` if it does not exist. An
    /// existing family keeps the options it was created with (the engine
    /// records them in the MANIFEST), so reopening with other options works
    /// and changes nothing for it.
    package func family(_ name: String, creatingWith options: ColumnFamilyOptions) throws -> ColumnFamily {
        try columnFamily(name) ?? createColumnFamily(name, options: options)
    }
}
