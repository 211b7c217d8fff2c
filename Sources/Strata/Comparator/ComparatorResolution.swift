/// Matching the comparator names a MANIFEST records with the comparators
/// the caller supplies in `Options`, so that no family is ever read in an
/// order other than the one its files were written in.
extension Options {
    /// The default family must be opened with `comparator`; another family
    /// with its entry in `columnFamilyComparators` when it has one, else
    /// with the built-in comparator of the recorded name. Anything else is
    /// `.invalidArgument` naming the family and both comparators.
    var comparatorResolver: ComparatorResolver {
        let defaultComparator = comparator
        let byFamily = columnFamilyComparators
        return { family, recorded in
            let supplied = family == "default" ? defaultComparator : byFamily[family]
            if let supplied {
                guard supplied.name == recorded else {
                    let whereFrom = family == "default" ? "Options.comparator" : "Options.columnFamilyComparators"
                    throw StrataError(.invalidArgument, "column family \"\(family)\" was created with comparator \"\(recorded)\" but is opened with \"\(supplied.name)\" (\(whereFrom))")
                }
                return supplied
            }
            if let builtIn = Comparator.builtIn(named: recorded) { return builtIn }
            throw StrataError(.invalidArgument, "column family \"\(family)\" was created with comparator \"\(recorded)\", which is not built in: supply it in Options.columnFamilyComparators[\"\(family)\"]")
        }
    }

    /// Throws `.invalidArgument` when a supplied custom comparator has an unusable name.
    func validateComparators() throws {
        try comparator.validate()
        for (_, c) in columnFamilyComparators { try c.validate() }
    }
}
