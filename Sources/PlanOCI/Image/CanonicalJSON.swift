import Foundation

/// The one JSON encoding used for everything this module writes: sorted keys, no extra
/// whitespace, `/` not escaped. The same value always gives the same bytes, hence the same digest.
enum CanonicalJSON {
    static func encode<T: Encodable>(_ value: T) throws(ImageError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value)
        } catch {
            throw ImageError.encoding(String(describing: T.self), String(describing: error))
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(ImageError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw ImageError.decoding(what, Self.describe(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return String(describing: error) }
        func path(_ ctx: DecodingError.Context) -> String {
            let p = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "top level" : "$" + p
        }
        switch e {
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            return "\(path(ctx)): \(ctx.debugDescription)"
        case .keyNotFound(let key, let ctx):
            return "\(path(ctx)): missing key \"\(key.stringValue)\""
        @unknown default:
            return String(describing: e)
        }
    }
}
