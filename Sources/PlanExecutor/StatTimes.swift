#if canImport(Darwin)
import Darwin

/// Linux's names for `stat`'s times, which Darwin spells `st_*timespec`: one spelling in the code
/// that reads them, on both.
extension stat {
    var st_atim: timespec { st_atimespec }
    var st_mtim: timespec { st_mtimespec }
    var st_ctim: timespec { st_ctimespec }
}
#endif
