public import Hummingbird
public import NIOCore

/// The request context of the API and the pages: Hummingbird's basic context plus the peer's address, which keys the
/// sign-in throttle.
public struct WebRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// JSON bodies (schedules, symbols) are a few bytes; 64 KiB is generous and bounds what a client can make us hold.
    public var maxUploadSize: Int { 64 * 1_024 }

    /// The client's IP address (no port), or `local` when there is none (a Unix socket, a test without sockets).
    ///
    /// Behind a reverse proxy every request comes from the proxy: it then throttles all clients together (see README,
    /// Security), which fails safe.
    var clientAddress: String { remoteAddress?.ipAddress ?? "local" }
}
