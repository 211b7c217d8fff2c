/// A binary min-heap: O(log n) push and pop, O(1) peek. The in-memory store
/// keeps its receive candidates and lock expiries in these.
struct MinHeap<Element: Comparable> {
    private(set) var elements: [Element] = []

    var isEmpty: Bool { elements.isEmpty }
    var count: Int { elements.count }
    /// The smallest element.
    var min: Element? { elements.first }

    mutating func push(_ e: Element) {
        elements.append(e)
        var i = elements.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard elements[i] < elements[parent] else { break }
            elements.swapAt(i, parent)
            i = parent
        }
    }

    @discardableResult
    mutating func popMin() -> Element? {
        guard !elements.isEmpty else { return nil }
        elements.swapAt(0, elements.count - 1)
        let out = elements.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < elements.count && elements[l] < elements[smallest] { smallest = l }
            if r < elements.count && elements[r] < elements[smallest] { smallest = r }
            if smallest == i { break }
            elements.swapAt(i, smallest)
            i = smallest
        }
        return out
    }
}
