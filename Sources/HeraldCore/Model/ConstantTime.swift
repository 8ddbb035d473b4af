/// Compares two byte strings without stopping at the first difference, so the time taken does
/// not reveal how much of a secret matched.
public func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
    for index in 0..<max(lhs.count, rhs.count) {
        let a = index < lhs.count ? lhs[index] : 0
        let b = index < rhs.count ? rhs[index] : 0
        difference |= a ^ b
    }
    return difference == 0
}

/// Whether `given` is one of `keys`, comparing with every key in constant time (no early exit,
/// so the time taken does not reveal which key came close).
public func matchesAnyKey(_ given: String, _ keys: [[UInt8]]) -> Bool {
    let bytes = Array(given.utf8)
    var matched = false
    for key in keys where constantTimeEqual(bytes, key) { matched = true }
    return matched
}
