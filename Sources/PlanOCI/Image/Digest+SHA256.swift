import struct Crypto.SHA256
import Foundation
import PlanValues

extension Digest {
    /// The SHA-256 digest of some bytes.
    public static func sha256<D: DataProtocol>(of data: D) -> Digest {
        Digest(trusted: "sha256", hex: SHA256.hash(data: data).hexString)
    }

    /// The SHA-256 digest of a finished hash function.
    public static func sha256(_ hash: SHA256.Digest) -> Digest {
        Digest(trusted: "sha256", hex: hash.hexString)
    }
}
