import Foundation
@testable import PlanExecutor
import Testing

/// The ssh agent forwarder of `mounts:` (type ssh): a socket with the mount's mode that relays to the agent.
@Suite struct SocketForwarderTests {
    @Test func itRelaysBothWaysWithTheModeGiven() throws {
        let folder = "/tmp/plan-fwd-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let agent = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(agent) }
        #expect(SocketForwarder.withAddress(folder + "/agent", { bind(agent, $0, $1) }) == 0)
        #expect(listen(agent, 4) == 0)
        let forwarder = try SocketForwarder(path: folder + "/forward", agent: folder + "/agent", mode: 0o660, uid: 0, gid: 0)
        defer { forwarder.stop() }
        var info = stat()
        #expect(stat(forwarder.path, &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFSOCK && info.st_mode & 0o777 == 0o660)

        let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        #expect(SocketForwarder.withAddress(forwarder.path, { connect(client, $0, $1) }) == 0)
        #expect(write(client, "ping", 4) == 4)
        let served = accept(agent, nil, nil)
        defer { close(served) }
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(read(served, &buffer, 16) == 4 && Array(buffer.prefix(4)) == Array("ping".utf8))
        #expect(write(served, "pong", 4) == 4)
        #expect(read(client, &buffer, 16) == 4 && Array(buffer.prefix(4)) == Array("pong".utf8))
        // The agent closing its side ends the client's.
        close(served)
        #expect(read(client, &buffer, 16) == 0)
        forwarder.stop()
        #expect(!FileManager.default.fileExists(atPath: forwarder.path))
    }
}
