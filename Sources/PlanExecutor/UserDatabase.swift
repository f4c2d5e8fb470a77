import Foundation

/// A user as a step runs it: numeric ids resolved through the root filesystem's `/etc/passwd` and
/// `/etc/group`, as Docker resolves `USER`.
public struct ResolvedUser: Hashable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups from `/etc/group` membership.
    public var groups: [UInt32]
    public var home: String

    public init(uid: UInt32, gid: UInt32, groups: [UInt32] = [], home: String = "/") {
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.home = home
    }
}

/// Reads `/etc/passwd` and `/etc/group` of a root filesystem.
public struct UserDatabase: Sendable {
    struct Passwd: Sendable {
        var name: String
        var uid: UInt32
        var gid: UInt32
        var home: String
    }

    struct Group: Sendable {
        var name: String
        var gid: UInt32
        var members: [String]
    }

    var users: [Passwd] = []
    var groups: [Group] = []

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unknownUser(String)
        case unknownGroup(String)

        public var description: String {
            switch self {
            case .unknownUser(let name): "no user `\(name)` in the image's /etc/passwd"
            case .unknownGroup(let name): "no group `\(name)` in the image's /etc/group"
            }
        }
    }

    /// Reads the files under `root`; a missing file is an empty database, as for `scratch` images.
    /// Links are followed inside `root` only: an image whose `/etc/passwd` links to `/etc/passwd` (or
    /// to any absolute path) names a file of the image, never the host's user database.
    public init(root: String) {
        let rooted = try? RootedDirectory(root)
        self.init(passwd: rooted?.readFile("/etc/passwd"), group: rooted?.readFile("/etc/group"))
    }

    init(passwd: Data?, group: Data?) {
        users = Self.lines(passwd).compactMap { fields in
            guard fields.count >= 6, let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { return nil }
            return Passwd(name: fields[0], uid: uid, gid: gid, home: fields[5])
        }
        groups = Self.lines(group).compactMap { fields in
            guard fields.count >= 3, let gid = UInt32(fields[2]) else { return nil }
            let members = fields.count > 3 ? fields[3].split(separator: ",").map(String.init) : []
            return Group(name: fields[0], gid: gid, members: members)
        }
    }

    static func lines(_ data: Data?) -> [[String]] {
        guard let data, let text = String(data: data, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
    }

    /// Resolves `USER` text (`name`, `uid`, `name:group`, `uid:gid`; empty means root) like Docker:
    /// a numeric user absent from passwd runs with group 0 and home `/`.
    public func resolve(_ spec: String) throws(Failure) -> ResolvedUser {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts.first.flatMap { $0.isEmpty ? nil : $0 } ?? "0"
        var uid: UInt32
        var gid: UInt32 = 0
        var home = "/"
        var name: String?
        if let entry = users.first(where: { $0.name == userPart }) ?? UInt32(userPart).flatMap({ number in
            users.first { $0.uid == number }
        }) {
            uid = entry.uid
            gid = entry.gid
            home = entry.home
            name = entry.name
        } else if let number = UInt32(userPart) {
            uid = number
        } else {
            throw .unknownUser(userPart)
        }
        if parts.count == 2, !parts[1].isEmpty {
            if let group = groups.first(where: { $0.name == parts[1] }) {
                gid = group.gid
            } else if let number = UInt32(parts[1]) {
                gid = number
            } else {
                throw .unknownGroup(parts[1])
            }
        }
        var supplementary: [UInt32] = []
        if let name, parts.count < 2 {
            supplementary = groups.filter { $0.members.contains(name) && $0.gid != gid }.map(\.gid)
        }
        return ResolvedUser(uid: uid, gid: gid, groups: supplementary, home: home)
    }
}
