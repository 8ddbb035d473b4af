/// What an admin key may do (SPEC §11). Scopes are levels: each one includes those below it.
///
/// - `read` lists and shows (endpoints, sessions, deliveries, `/metrics`);
/// - `operate` adds what talks to users: inject, notify, schedule, handover, reply, handback;
/// - `admin` adds what changes Herald's state for everyone: retry, resume, delete a session,
///   erase a user, broadcast, and reading the audit log.
public enum AdminScope: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    case read
    case operate
    case admin

    private var level: Int {
        switch self {
        case .read: 0
        case .operate: 1
        case .admin: 2
        }
    }

    public static func < (lhs: AdminScope, rhs: AdminScope) -> Bool { lhs.level < rhs.level }
    public var description: String { rawValue }
}

/// One entry of `admin.keys`: a plain key (every scope), or `{name, key, scopes}`.
///
/// The key itself is a ``Secret``; the audit log, errors and logs only ever name a key by its
/// `name`. A plain key is named by its place in the list, `key-1`, `key-2`, … (no part of the
/// key, not even a hash of it, is shown anywhere).
public struct AdminKey: Sendable, Hashable {
    public var name: String
    public var key: Secret
    /// The highest scope the key was given; it has that one and every scope below it.
    public var scope: AdminScope

    public init(name: String, key: Secret, scope: AdminScope = .admin) {
        self.name = name
        self.key = key
        self.scope = scope
    }

    /// A plain key at `position` (0-based) of `admin.keys`: every scope.
    public init(plain key: Secret, position: Int) {
        self.init(name: "key-\(position + 1)", key: key, scope: .admin)
    }

    public func allows(_ needed: AdminScope) -> Bool { needed <= scope }

    /// The scopes the key has, lowest first (`["read", "operate"]`).
    public var scopes: [AdminScope] { AdminScope.allCases.filter(allows) }
}

extension [AdminKey] {
    /// The key `given` is, compared with every key in constant time (no early exit, so the time
    /// taken does not reveal which key came close); `nil` when it is none of them.
    public func identify(_ given: String) -> AdminKey? {
        let bytes = [UInt8](given.utf8)
        var found: AdminKey?
        for key in self where constantTimeEqual(bytes, [UInt8](key.key.value.utf8)) { found = key }
        return found
    }
}
