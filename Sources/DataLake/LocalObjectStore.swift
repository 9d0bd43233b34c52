import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An ``ObjectStore`` in a local folder: one sub-folder per bucket, keys as relative paths.
///
/// Writes go to a temporary file in the bucket, are flushed with `fsync`, and are renamed into place,
/// so a crash never leaves a half-written object under its final name.
///
/// Each write records the content's MD5 in an extended attribute, with the size and modification time it belongs to, so
/// `head` and `list` report it without reading the file (as S3 reports its ETag). A file changed by anything else no
/// longer matches its record and has no MD5; so has a file written elsewhere, or on a file system without extended
/// attributes.
public struct LocalObjectStore: ObjectStore {
    public let root: String

    public init(root: String) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    static let temporaryFolder = ".tmp"

    func path(_ bucket: String, _ key: String) throws(ObjectStoreError) -> String {
        try ObjectKeyRules.validate(key)
        return "\(root)/\(bucket)/\(key)"
    }

    public func put(bucket: String, key: String, bytes: [UInt8]) async throws(ObjectStoreError) {
        let location = ObjectLocation(bucket: bucket, key: key)
        let finalPath = try path(bucket, key)
        let temporaryDirectory = "\(root)/\(bucket)/\(Self.temporaryFolder)"
        let directory = (finalPath as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: true)
        } catch {
            throw .io(operation: "create folder for", location: location, detail: "\(error)")
        }
        let temporaryPath = "\(temporaryDirectory)/\(UUID().uuidString)"
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw .io(operation: "create", location: location, detail: Self.errnoText()) }
        var written = 0
        let failure: String? = bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let result = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return Self.errnoText()
                }
                written += result
            }
            Self.recordMD5(fd, bytes)
            return fsync(fd) == 0 ? nil : Self.errnoText()
        }
        close(fd)
        if let failure {
            unlink(temporaryPath)
            throw .io(operation: "write", location: location, detail: failure)
        }
        guard rename(temporaryPath, finalPath) == 0 else {
            let detail = Self.errnoText()
            unlink(temporaryPath)
            throw .io(operation: "rename into", location: location, detail: detail)
        }
        Self.syncDirectory(directory)
    }

    public func get(bucket: String, key: String) async throws(ObjectStoreError) -> [UInt8] {
        let filePath = try path(bucket, key)
        // A pipe would block the read for good, a link to a device never end it: only regular files are objects.
        var info = stat()
        if lstat(filePath, &info) == 0, EntryKind(mode: info.st_mode) != .object {
            throw .io(
                operation: "read", location: ObjectLocation(bucket: bucket, key: key),
                detail: "not a regular file (a folder, symbolic link, pipe or device); a lake folder holds files only")
        }
        guard let data = FileManager.default.contents(atPath: filePath) else {
            if !FileManager.default.fileExists(atPath: filePath) { throw .notFound(bucket: bucket, key: key) }
            throw .io(operation: "read", location: ObjectLocation(bucket: bucket, key: key), detail: "unreadable file")
        }
        return [UInt8](data)
    }

    public func head(bucket: String, key: String) async throws(ObjectStoreError) -> ObjectInfo? {
        let filePath = try path(bucket, key)
        var info = stat()
        guard stat(filePath, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .io(operation: "stat", location: ObjectLocation(bucket: bucket, key: key), detail: Self.errnoText())
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return ObjectInfo(key: key, size: Int(info.st_size), contentMD5: Self.recordedMD5(filePath, info))
    }

    public func list(bucket: String, prefix: String) async throws(ObjectStoreError) -> [ObjectInfo] {
        let bucketPath = "\(root)/\(bucket)"
        // Walk only the folder the prefix names, so listing one day does not read the others.
        let folder = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
        let start = folder.isEmpty ? bucketPath : "\(bucketPath)/\(folder)"
        var results: [ObjectInfo] = []
        var stack = [(start, folder)]
        while let (directory, relative) = stack.popLast() {
            let entries: [String]
            do {
                entries = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                // A bucket or folder that does not exist yet simply has no objects; anything else is an error.
                var info = stat()
                if stat(directory, &info) != 0, errno == ENOENT || errno == ENOTDIR { continue }
                throw .io(operation: "list", location: ObjectLocation(bucket: bucket, key: relative), detail: "\(error)")
            }
            for name in entries {
                if relative.isEmpty, name == Self.temporaryFolder { continue }
                let key = relative.isEmpty ? name : "\(relative)/\(name)"
                let full = "\(directory)/\(name)"
                var info = stat()
                // An entry removed between listing and lstat (a concurrent move) is simply gone.
                guard lstat(full, &info) == 0 else { continue }
                switch Self.EntryKind(mode: info.st_mode) {
                case .folder:
                    if key.hasPrefix(prefix) || prefix.hasPrefix(key + "/") { stack.append((full, key)) }
                case .object where key.hasPrefix(prefix):
                    results.append(ObjectInfo(key: key, size: Int(info.st_size), contentMD5: Self.recordedMD5(full, info)))
                case .object, .other: continue
                }
            }
        }
        results.sort { $0.key < $1.key }
        return results
    }

    /// Reads the folders with `readdir`, keeping only keys that may be on the page (at most twice `limit` names), so a
    /// page of a folder of a million objects holds one page; each page reads the folder's names again.
    public func list(bucket: String, prefix: String, after: String?, limit: Int) async throws(ObjectStoreError) -> ObjectPage {
        let limit = max(1, limit)
        let bucketPath = "\(root)/\(bucket)"
        let folder = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        var candidates = PageCandidates(limit: limit, after: after)
        var folders = [folder]
        while let relative = folders.popLast() {
            let directory = relative.isEmpty ? bucketPath : "\(bucketPath)/\(relative)"
            guard let stream = opendir(directory) else {
                // A bucket or folder that does not exist (yet, or any more) simply has no objects.
                if errno == ENOENT || errno == ENOTDIR { continue }
                throw .io(operation: "list", location: ObjectLocation(bucket: bucket, key: relative), detail: Self.errnoText())
            }
            defer { closedir(stream) }
            let keyPrefix = relative.isEmpty ? "" : relative + "/"
            while true {
                // readdir ends the folder and reports an error alike (nil), told apart by errno: a folder that fails
                // half-way is an error, not a shorter listing whose last page ends the walk.
                errno = 0
                guard let entry = readdir(stream) else {
                    if errno != 0 {
                        throw .io(operation: "list", location: ObjectLocation(bucket: bucket, key: relative), detail: Self.errnoText())
                    }
                    break
                }
                // A name that is not UTF-8 is no key of a lake (each object's name is one): left out, not read under a
                // mangled name that another file may have.
                guard
                    let name = withUnsafeBytes(
                        of: entry.pointee.d_name,
                        { bytes in
                            bytes.withMemoryRebound(to: CChar.self) { $0.baseAddress.flatMap { String(validatingCString: $0) } }
                        })
                else { continue }
                if name == "." || name == ".." || (relative.isEmpty && name == Self.temporaryFolder) { continue }
                let key = keyPrefix + name
                var kind = Self.EntryKind(directoryType: entry.pointee.d_type)
                if kind == nil {
                    var info = stat()
                    guard lstat("\(directory)/\(name)", &info) == 0 else { continue }
                    kind = Self.EntryKind(mode: info.st_mode)
                }
                switch kind {
                case .folder:
                    let inside = key + "/"
                    let related = ObjectPage.key(inside, startsWith: prefix) || ObjectPage.key(prefix, startsWith: inside)
                    if related && candidates.mayHold(keysUnder: inside) {
                        folders.append(key)
                    }
                case .object where ObjectPage.key(key, startsWith: prefix):
                    candidates.offer(key)
                default: continue
                }
            }
        }
        let (keys, truncated) = candidates.page()
        var objects: [ObjectInfo] = []
        objects.reserveCapacity(keys.count)
        for key in keys {
            let full = "\(bucketPath)/\(key)"
            var info = stat()
            // An entry removed between listing and lstat (a concurrent move) is simply gone.
            guard lstat(full, &info) == 0, Self.EntryKind(mode: info.st_mode) == .object else { continue }
            objects.append(ObjectInfo(key: key, size: Int(info.st_size), contentMD5: Self.recordedMD5(full, info)))
        }
        return ObjectPage(objects: objects, resumeAfter: truncated ? keys.last : nil)
    }

    public func listFolders(bucket: String, prefix: String) async throws(ObjectStoreError) -> [String] {
        let directory = prefix.isEmpty ? "\(root)/\(bucket)" : "\(root)/\(bucket)/\(prefix.dropLast())"
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            var info = stat()
            if stat(directory, &info) != 0, errno == ENOENT || errno == ENOTDIR { return [] }
            throw .io(operation: "list", location: ObjectLocation(bucket: bucket, key: prefix), detail: "\(error)")
        }
        return entries.filter { name in
            guard !(prefix.isEmpty && name == Self.temporaryFolder) else { return false }
            var info = stat()
            return lstat("\(directory)/\(name)", &info) == 0 && EntryKind(mode: info.st_mode) == .folder
        }.map { prefix + $0 + "/" }.sorted()
    }

    public func copy(from source: ObjectLocation, to destination: ObjectLocation) async throws(ObjectStoreError) {
        let bytes = try await get(bucket: source.bucket, key: source.key)
        try await put(bucket: destination.bucket, key: destination.key, bytes: bytes)
    }

    public func delete(bucket: String, key: String) async throws(ObjectStoreError) {
        let filePath = try path(bucket, key)
        if unlink(filePath) != 0, errno != ENOENT {
            throw .io(operation: "delete", location: ObjectLocation(bucket: bucket, key: key), detail: Self.errnoText())
        }
    }

    /// The extended attribute holding `<md5> <size> <mtime seconds>.<nanoseconds>` of the content written.
    static let md5Attribute = "user.cryptopipe.md5"

    /// Records the MD5 of the file just written through `fd` (best effort: without extended attributes there is none).
    private static func recordMD5(_ fd: Int32, _ bytes: [UInt8]) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return }
        let record = Array("\(SigV4Signer.hex(Insecure.MD5.hash(data: bytes))) \(info.st_size) \(modification(info))".utf8)
        #if canImport(Darwin)
        _ = fsetxattr(fd, md5Attribute, record, record.count, 0, 0)
        #else
        _ = ExtendedAttributes.set?(fd, md5Attribute, record, record.count, 0)
        #endif
    }

    /// The recorded MD5 of the file at `path`, when the record matches the file's current size and modification time.
    static func recordedMD5(_ path: String, _ info: stat) -> String? {
        var buffer = [UInt8](repeating: 0, count: 96)
        #if canImport(Darwin)
        let length = getxattr(path, md5Attribute, &buffer, buffer.count, 0, 0)
        #else
        let length = ExtendedAttributes.get?(path, md5Attribute, &buffer, buffer.count) ?? -1
        #endif
        guard length > 0 else { return nil }
        // "<32 hex digits> <size> <seconds>.<nanoseconds>", compared byte by byte: a listing reads one per object.
        let recorded = buffer[..<length]
        let expected = " \(info.st_size) \(modification(info))".utf8
        guard length == 32 + expected.count, recorded.suffix(expected.count).elementsEqual(expected),
            !recorded.prefix(32).contains(UInt8(ascii: " "))
        else { return nil }
        return String(decoding: recorded.prefix(32), as: UTF8.self)
    }

    private static func modification(_ info: stat) -> String {
        #if canImport(Darwin)
        return "\(info.st_mtimespec.tv_sec).\(info.st_mtimespec.tv_nsec)"
        #else
        return "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        #endif
    }

    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// The smallest `limit` keys after `after` of those offered, in UTF-8 byte order, holding at most twice `limit`.
struct PageCandidates {
    let limit: Int
    let after: String?
    private var keys: [String] = []
    /// Once `limit` keys are kept, a key sorting after the largest of them cannot be on the page.
    private var bound: String?

    init(limit: Int, after: String?) {
        self.limit = limit
        self.after = after
    }

    mutating func offer(_ key: String) {
        guard ObjectPage.sorts(key, after: after), bound.map({ key.utf8.lexicographicallyPrecedes($0.utf8) }) ?? true else { return }
        keys.append(key)
        if keys.count >= 2 * limit { trim() }
    }

    /// Whether a folder whose keys all start with `inside` can hold a key after `after`.
    func mayHold(keysUnder inside: String) -> Bool {
        guard let after, !ObjectPage.key(after, startsWith: inside) else { return true }
        return !inside.utf8.lexicographicallyPrecedes(after.utf8)
    }

    /// The page's keys, ascending, and whether more keys were offered than fit.
    mutating func page() -> (keys: [String], truncated: Bool) {
        trim()
        return (keys, bound != nil)
    }

    private mutating func trim() {
        keys.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        if keys.count > limit {
            keys.removeSubrange(limit...)
            bound = keys.last
        }
    }
}

#if !canImport(Darwin)
/// `fsetxattr` and `getxattr` from the C library: Glibc's module map leaves out `<sys/xattr.h>`, so they are looked up
/// by name (`nil` where the C library lacks them: the store then records no MD5).
enum ExtendedAttributes {
    typealias Set = @convention(c) (Int32, UnsafePointer<CChar>?, UnsafeRawPointer?, Int, Int32) -> Int32
    typealias Get = @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?, Int) -> Int

    nonisolated(unsafe) static let set: Set? = dlsym(nil, "fsetxattr").map { unsafeBitCast($0, to: Set.self) }
    nonisolated(unsafe) static let get: Get? = dlsym(nil, "getxattr").map { unsafeBitCast($0, to: Get.self) }
}
#endif

extension LakeLayout {
    /// The layouts a lake folder holds objects in: ours (`crypto-raw/`, `crypto-archive/`) and the original system's
    /// (`raw/`, `archive/`), each when one of its folders exists.
    public static func layouts(inLocalFolder root: String) -> [LakeLayout] {
        func isFolder(_ name: String) -> Bool {
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(root)/\(name)", isDirectory: &directory) && directory.boolValue
        }
        return [LakeLayout(), originalLocal].filter { isFolder($0.rawBucket) || isFolder($0.archiveBucket) }
    }

    /// The layout a lake folder is read and written in: the original system's when it holds only that one, so
    /// pointing `--lake` at its `data_lake/` works where it is; ours otherwise (a new folder, or one with both, whose
    /// `raw/` and `archive/` are then copied in with `lake migrate`).
    public static func of(localFolder root: String) -> LakeLayout {
        layouts(inLocalFolder: root) == [originalLocal] ? originalLocal : LakeLayout()
    }
}

extension LocalObjectStore {
    /// What a folder entry is to the lake. Symbolic links are not followed: a link to `.` would make a walk endless and
    /// list every object twice (and deleting the alias deletes the object), and a pipe or device named `x.json` would
    /// block or never end a read. Only regular files are objects and only real folders are walked.
    enum EntryKind: Equatable {
        case folder, object, other

        init(mode: mode_t) {
            switch mode & S_IFMT {
            case S_IFDIR: self = .folder
            case S_IFREG: self = .object
            default: self = .other
            }
        }

        /// From `readdir`'s type, `nil` when the file system does not say (then `lstat` does).
        init?(directoryType: UInt8) {
            switch directoryType {
            case UInt8(DT_DIR): self = .folder
            case UInt8(DT_REG): self = .object
            case UInt8(DT_UNKNOWN): return nil
            default: self = .other
            }
        }
    }
}
