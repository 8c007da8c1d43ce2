internal import _CocoonKernels

/// Cache hints for loops that read scattered rows (a slate's item embeddings, user by user):
/// asking for the next user's rows while the current one is computed hides the memory latency
/// that otherwise dominates such loops. A hint never changes a result.
public enum Prefetch {
    /// Hints that rows `items` of the row-major `storage` (rows of `rowLength` elements) will be
    /// read soon. Indices outside the array are ignored.
    public static func rows(of storage: [Float], _ items: ArraySlice<Int32>, rowLength: Int) { rowsOf(storage, items, rowLength) }

    /// The same for Double rows.
    public static func rows(of storage: [Double], _ items: ArraySlice<Int32>, rowLength: Int) { rowsOf(storage, items, rowLength) }

    /// Hints row `item` of the row-major `storage` (rows of `rowLength` elements); an index
    /// outside the array is ignored.
    public static func row(of storage: [Float], _ item: Int, rowLength: Int) {
        storage.withUnsafeBufferPointer { p in hint(p, item, rowLength) }
    }

    /// The same for Double rows.
    public static func row(of storage: [Double], _ item: Int, rowLength: Int) {
        storage.withUnsafeBufferPointer { p in hint(p, item, rowLength) }
    }

    /// The same for the rows of a buffer that parallel blocks write (per-user state).
    public static func row(of buffer: ParallelBuffer<Double>, _ item: Int, rowLength: Int) {
        hint(UnsafeBufferPointer(buffer.base), item, rowLength)
    }

    /// The same for the rows of a shared per-user array (the next user's state in a block).
    public static func row(of array: SharedArray<Float>, _ item: Int, rowLength: Int) {
        hint(UnsafeBufferPointer(start: array.base, count: array.count), item, rowLength)
    }

    /// Hints `count` Doubles from `p` (memory the caller owns, e.g. a row a few iterations on).
    public static func doubles(at p: UnsafePointer<Double>, count: Int) {
        cocoon_prefetch(p, count * MemoryLayout<Double>.stride)
    }

    /// Hints the ids `range` of `ids` (e.g. the next user's last slate).
    public static func ids(of ids: SharedItemIDs, _ range: Range<Int>) {
        guard range.lowerBound >= 0, range.upperBound <= ids.count, !range.isEmpty else { return }
        if ids.isNarrow {
            cocoon_prefetch(ids.narrow.base + range.lowerBound, range.count * MemoryLayout<UInt16>.stride)
        } else {
            cocoon_prefetch(ids.wide.base + range.lowerBound, range.count * MemoryLayout<Int32>.stride)
        }
    }

    /// Hints the first `bytes` of the storage of `arrays[i]` (a user's list, say: its header and
    /// first elements). Neither the array's count nor its reference count is touched, so the
    /// hint does not wait for the memory it asks for (passing the element itself took a
    /// reference: a write to that very header). An array is one reference to its storage object
    /// (header, then the elements); and a prefetch of any address is harmless, it never faults.
    public static func start(ofElement i: Int, of arrays: [[Int32]], bytes: Int) {
        guard i >= 0 && i < arrays.count, MemoryLayout<[Int32]>.size == MemoryLayout<UnsafeRawPointer>.size else { return }
        arrays.withUnsafeBufferPointer { p in
            cocoon_prefetch(UnsafeRawPointer(p.baseAddress! + i).load(as: UnsafeRawPointer.self), bytes)
        }
    }

    // (Concrete element types in the public API: a generic one called from another module ran
    // unspecialised, reading the element size from type metadata for every row.)
    @inline(__always)
    private static func rowsOf<T>(_ storage: [T], _ items: ArraySlice<Int32>, _ rowLength: Int) {
        storage.withUnsafeBufferPointer { p in
            for i in items { hint(p, Int(i), rowLength) }
        }
    }

    @inline(__always)
    private static func hint<T>(_ p: UnsafeBufferPointer<T>, _ item: Int, _ rowLength: Int) {
        guard let base = p.baseAddress, item >= 0, (item + 1) * rowLength <= p.count else { return }
        cocoon_prefetch(base + item * rowLength, rowLength * MemoryLayout<T>.stride)
    }
}
