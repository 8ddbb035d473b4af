internal import CCurl
import Foundation
import HeraldCore
import Logging
import ServiceLifecycle
import Synchronization

/// The webhook client: libcurl's multi interface driven by one thread of its own.
///
/// That thread owns the multi handle and every easy handle: it adds queued transfers, runs
/// `curl_multi_perform`, reads finished transfers and sleeps in `curl_multi_poll`. Other
/// threads only append to a locked queue and call `curl_multi_wakeup`, so libcurl is used from
/// one thread, connections are reused across requests, and many requests are in flight at once.
///
/// It is a `Service`: `run()` keeps the thread until graceful shutdown, then stops it; requests
/// still in flight fail with ``WebhookError/shutdown``.
public final class CurlWebhookClient: WebhookClient, Service, Sendable {
    private let shared: CurlShared
    private let nextId = Atomic<UInt64>(1)

    public init(userAgent: String = "herald/\(HeraldVersion.current)") {
        CurlGlobal.initialize()
        let shared = CurlShared(userAgent: userAgent)
        self.shared = shared
        let thread = Thread {
            // Named for `top -H` and profiles (Foundation's `Thread.name` does not reach the
            // kernel on Linux).
            herald_set_thread_name("herald-curl")
            var loop = CurlLoop(shared: shared)
            loop.run()
        }
        thread.start()
    }

    deinit {
        shared.stop()
    }

    public func send(_ request: WebhookRequest) async throws(WebhookError) -> WebhookResponse {
        let id = nextId.wrappingAdd(1, ordering: .relaxed).oldValue
        let shared = self.shared
        let result: Result<WebhookResponse, WebhookError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<WebhookResponse, WebhookError>, Never>) in
                start(CurlTransfer(id: id, request: request) { continuation.resume(returning: $0) })
            }
        } onCancel: {
            shared.cancel(id)
        }
        return try result.get()
    }

    public func start(_ request: WebhookRequest, completion: @escaping @Sendable (Result<WebhookResponse, WebhookError>) -> Void) {
        start(CurlTransfer(id: nextId.wrappingAdd(1, ordering: .relaxed).oldValue, request: request, completion: completion))
    }

    private func start(_ transfer: CurlTransfer) {
        if !shared.enqueue(transfer) {
            transfer.completion(.failure(WebhookError(.shutdown, "the webhook client is stopped")))
        }
    }

    /// Keeps the client until graceful shutdown, then stops its thread.
    public func run() async throws {
        try? await gracefulShutdown()
        shared.stop()
    }

    /// Stops the thread; in-flight and queued requests fail with ``WebhookError/shutdown``.
    public func stop() {
        shared.stop()
    }
}

/// What the client's callers and its thread share: the work queue and the multi handle.
final class CurlShared: Sendable {
    struct Queue {
        var starting: [CurlTransfer] = []
        var cancelling: [UInt64] = []
        var stopping = false
        /// A wakeup is on its way that the client thread has not yet answered by taking the
        /// queue: the next request need not send another (each wakeup is a system call, and
        /// under load many requests arrive before the thread next looks).
        var wakeupPending = false

        /// Whether the caller should wake the thread for what it just queued.
        mutating func needsWakeup() -> Bool {
            defer { wakeupPending = true }
            return !wakeupPending
        }
    }

    let queue = Mutex(Queue())
    let multi: CurlMultiHandle
    let userAgent: String

    init(userAgent: String) {
        self.userAgent = userAgent
        self.multi = CurlMultiHandle()
    }

    func enqueue(_ transfer: CurlTransfer) -> Bool {
        let (accepted, wake) = queue.withLock { queue -> (Bool, Bool) in
            if queue.stopping { return (false, false) }
            queue.starting.append(transfer)
            return (true, queue.needsWakeup())
        }
        if wake { multi.wakeup() }
        return accepted
    }

    func cancel(_ id: UInt64) {
        let wake = queue.withLock { queue in
            queue.cancelling.append(id)
            return queue.needsWakeup()
        }
        if wake { multi.wakeup() }
    }

    func stop() {
        queue.withLock { $0.stopping = true }
        multi.wakeup()
    }
}

/// The Herald version, as sent in `User-Agent`.
public enum HeraldVersion {
    public static let current = "0.1.0"
}

/// `curl_global_init` must run once, before any other libcurl call.
enum CurlGlobal {
    private static let once: Void = {
        curl_global_init(HERALD_CURL_GLOBAL_ALL)
    }()

    static func initialize() {
        _ = once
    }
}

/// Owns a `CURLM*`.
///
/// `@unchecked Sendable`: the handle is used by the client thread only, except
/// `curl_multi_wakeup`, which libcurl documents as callable from any thread; the handle is
/// cleaned up by the client thread when its loop ends, after which `wakeup` is not called
/// (``closed`` guards it).
final class CurlMultiHandle: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private let closed = Mutex(false)

    /// Connections kept open for reuse. libcurl's default is four per easy handle currently
    /// added, which shrinks whenever transfers finish, so under a steady load it kept closing
    /// connections and opening new ones (hundreds a second, seen as TIME_WAIT sockets).
    static let connectionCacheSize = 1024

    init() {
        self.handle = curl_multi_init()
        herald_multi_setopt_long(handle, CURLMOPT_MAXCONNECTS, Self.connectionCacheSize)
    }

    func wakeup() {
        closed.withLock { closed in
            if !closed { curl_multi_wakeup(handle) }
        }
    }

    func close() {
        closed.withLock { closed in
            if !closed {
                closed = true
                curl_multi_cleanup(handle)
            }
        }
    }
}
