import Foundation
import PlanTestKit
import Testing

@testable import PlanOCI

@Suite("Content store")
struct ContentStoreTests {
    @Test("write, read, path, and an idempotent second write")
    func roundTrip() throws {
        let dir = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(dir) }
        let store = try ContentStore(root: dir)
        let data = Data("hello blob".utf8)
        let d = try store.write(data)
        #expect(d == Digest.sha256(of: data))
        #expect(store.path(for: d).path == dir.standardizedFileURL.path + "/blobs/sha256/" + d.encoded)
        #expect(try store.data(for: d, verify: true) == data)
        #expect(try store.write(data, expecting: d) == d)
        #expect(store.digests() == [d])
        #expect(store.temporaryFiles().isEmpty)
        #expect(throws: ContentStoreError.notFound(Digest.sha256(of: Data("x".utf8)))) {
            try store.data(for: Digest.sha256(of: Data("x".utf8)))
        }
    }

    @Test("a digest mismatch is an error and leaves nothing behind")
    func mismatch() throws {
        let dir = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(dir) }
        let store = try ContentStore(root: dir)
        let claimed = Digest.sha256(of: Data("the real thing".utf8))
        let writer = try store.writer(expecting: claimed, size: 14)
        try writer.write(Data("a fake thing!!".utf8))
        #expect(throws: ContentStoreError.digestMismatch(expected: claimed, actual: Digest.sha256(of: Data("a fake thing!!".utf8)))) {
            try writer.commit()
        }
        #expect(!store.contains(claimed))
        #expect(store.digests().isEmpty)
        #expect(store.temporaryFiles().isEmpty)

        // Too many bytes fails at once; too few at commit.
        let w2 = try store.writer(expecting: claimed, size: 3)
        #expect(throws: ContentStoreError.self) { try w2.write(Data("four".utf8)) }
        let w3 = try store.writer(expecting: claimed, size: 100)
        try w3.write(Data("the real thing".utf8))
        #expect(throws: ContentStoreError.sizeMismatch(expected: 100, actual: 14, digest: claimed)) { try w3.commit() }
        #expect(store.digests().isEmpty && store.temporaryFiles().isEmpty)
    }

    @Test("a writer dropped before commit leaves nothing; an entry appears only when complete")
    func atomicVisibility() throws {
        let dir = try OCITestKit.temporaryDirectory()
        defer { OCITestKit.remove(dir) }
        let store = try ContentStore(root: dir)
        let data = Data(repeating: 7, count: 3 << 20)
        let digest = Digest.sha256(of: data)
        do {
            let w = try store.writer(expecting: digest)
            try w.write(data.prefix(1 << 20))
            #expect(!store.contains(digest))
            #expect(store.temporaryFiles().count == 1)
        }
        #expect(store.temporaryFiles().isEmpty)
        let w = try store.writer(expecting: digest, size: Int64(data.count))
        try w.write(data.prefix(2 << 20))
        #expect(!store.contains(digest))
        try w.write(data.suffix(from: 2 << 20))
        #expect(!store.contains(digest))
        try w.commit()
        #expect(store.contains(digest) && store.size(of: digest) == Int64(data.count))
    }
}
