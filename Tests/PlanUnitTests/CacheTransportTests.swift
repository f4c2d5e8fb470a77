import PlanExecutor
import PlanValues
import Testing

/// The one parser of `--cache-from` and `--cache-to` values (BuildKit's spelling, and plan's `dir=`).
struct CacheTransportTests {
    @Test func registryAndLocalSpellings() throws {
        let to = try CacheTransport(parsing: "type=registry,ref=127.0.0.1:5555/team/app/cache:main,mode=max,mounts=true,mounts-max-size=512m",
                                    direction: .to)
        #expect(to.location == .registry(try ImageReference(parsing: "127.0.0.1:5555/team/app/cache:main")))
        #expect(to.mounts && to.mountsMaxSize == 512 << 20 && !to.ignoreError)
        let ignoring = try CacheTransport(parsing: "type=registry,ref=example.com/c,ignore-error=true,oci-mediatypes=true", direction: .to)
        #expect(ignoring.ignoreError && !ignoring.mounts && ignoring.mountsMaxSize == CacheTransport.defaultMountsMaxSize)
        #expect(try CacheTransport(parsing: "type=local,dest=ci-cache", direction: .to).location == .directory("ci-cache"))
        #expect(try CacheTransport(parsing: "type=local,src=ci-cache", direction: .from).location == .directory("ci-cache"))
        #expect(try CacheTransport(parsing: "dir=ci-cache", direction: .from).location == .directory("ci-cache"))
        // --cache-from restores mounts it finds unless told not to.
        #expect(try CacheTransport(parsing: "type=registry,ref=example.com/c", direction: .from).mounts)
        #expect(try !CacheTransport(parsing: "type=registry,ref=example.com/c,mounts=false", direction: .from).mounts)
        // ... and fetches no mount entry larger than its mounts-max-size.
        #expect(try CacheTransport(parsing: "type=registry,ref=example.com/c,mounts-max-size=2m", direction: .from).mountsMaxSize == 2 << 20)
    }

    @Test func sizes() throws {
        for (text, bytes) in [("1024", Int64(1024)), ("4k", 4096), ("3M", 3 << 20), ("1g", 1 << 30)] {
            #expect(try CacheTransport(parsing: "dir=x,mounts-max-size=\(text)", direction: .to).mountsMaxSize == bytes)
        }
        for text in ["", "k", "-1", "1.5g", "1t", "99999999999999999999g"] {
            #expect(throws: CacheTransport.ParseError.self) { try CacheTransport(parsing: "dir=x,mounts-max-size=\(text)", direction: .to) }
        }
    }

    @Test func badSpellingsNameTheOption() {
        let cases: [(String, CacheTransport.Direction, String)] = [
            ("type=registry", .to, "--cache-to type=registry: type=registry needs ref=REF"),
            ("type=registry,ref=a/b,ref=c/d", .from, "--cache-from type=registry,ref=a/b,ref=c/d: `ref=` is given twice"),
            ("dir=a,dest=b", .to, "--cache-to dir=a,dest=b: give either dest= or dir=, not both"),
            ("type=registry,ref=a/b,ignore-error=true", .from, "--cache-from type=registry,ref=a/b,ignore-error=true: unknown key `ignore-error`"),
            ("type=registry,ref=a/b,image-manifest=true", .to, "--cache-to type=registry,ref=a/b,image-manifest=true: image-manifest= is not supported"),
            ("type=registry,ref=a/b,oci-mediatypes=false", .to, "--cache-to type=registry,ref=a/b,oci-mediatypes=false: oci-mediatypes=false"),
            ("type=s3,bucket=x", .to, "--cache-to type=s3,bucket=x: type=s3 is not a cache type"),
            ("", .from, "--cache-from : `` is not KEY=VALUE"),
        ]
        for (text, direction, message) in cases {
            #expect(throws: CacheTransport.ParseError.self) { try CacheTransport(parsing: text, direction: direction) }
            do {
                _ = try CacheTransport(parsing: text, direction: direction)
            } catch {
                #expect(error.description.hasPrefix(message), "\(error.description)")
            }
        }
    }
}
