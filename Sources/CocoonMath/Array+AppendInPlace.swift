extension Array {
    /// Appends up to `count` elements that `body` writes into room made at once — no `append`,
    /// and so no uniqueness check, per element. `body` gets the new room (filled with `filler`)
    /// and returns how many of its leading elements it wrote; the rest is removed.
    @inlinable
    public mutating func appendInPlace(
        upTo count: Int, filler: Element, _ body: (UnsafeMutableBufferPointer<Element>) throws -> Int
    ) rethrows {
        let start = self.count
        append(contentsOf: repeatElement(filler, count: count))
        let written = try withUnsafeMutableBufferPointer { all in
            try body(UnsafeMutableBufferPointer(rebasing: all[start...]))
        }
        precondition(written >= 0 && written <= count, "wrote \(written) of at most \(count) elements")
        removeLast(count - written)
    }
}
