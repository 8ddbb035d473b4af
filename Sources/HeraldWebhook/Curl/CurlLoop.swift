internal import CCurl
import Foundation
import HeraldCore
import Synchronization

/// One webhook POST inside libcurl: the request, its easy handle, and what came back.
///
/// `@unchecked Sendable`: a transfer is created by the caller and handed over through the
/// locked queue; from then on only the client thread touches it, and the caller only gets the
/// result through `completion`, which the client thread calls once.
final class CurlTransfer: @unchecked Sendable {
    let id: UInt64
    let request: WebhookRequest
    let completion: @Sendable (Result<WebhookResponse, WebhookError>) -> Void
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var responseBody: [UInt8] = []
    var retryAfter: String?
    var contentType: String?
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    var started = ContinuousClock.now

    init(id: UInt64, request: WebhookRequest, completion: @escaping @Sendable (Result<WebhookResponse, WebhookError>) -> Void) {
        self.id = id
        self.request = request
        self.completion = completion
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        if let headerList { curl_slist_free_all(headerList) }
        errorBuffer.deallocate()
    }

    var errorText: String? {
        let text = String(cString: errorBuffer)
        return text.isEmpty ? nil : text
    }
}

/// The client thread's loop over the multi handle.
struct CurlLoop {
    let shared: CurlShared
    private var multi: UnsafeMutableRawPointer { shared.multi.handle }
    private var active: [UInt64: CurlTransfer] = [:]
    private var byHandle: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    private var idleHandles: [UnsafeMutableRawPointer] = []

    init(shared: CurlShared) {
        self.shared = shared
    }

    mutating func run() {
        while true {
            let work = shared.queue.withLock { queue in
                defer {
                    queue.starting.removeAll(keepingCapacity: true)
                    queue.cancelling.removeAll(keepingCapacity: true)
                    queue.wakeupPending = false
                }
                return (queue.starting, Set(queue.cancelling), queue.stopping)
            }
            let (starting, cancelling, stopping) = work
            for transfer in starting {
                if stopping || cancelling.contains(transfer.id) {
                    transfer.completion(.failure(WebhookError(.shutdown, stopping ? "the webhook client stopped" : "cancelled")))
                } else {
                    start(transfer)
                }
            }
            for id in cancelling {
                guard let transfer = active[id] else { continue }
                finish(transfer, .failure(WebhookError(.shutdown, "cancelled")))
            }
            if stopping {
                for transfer in Array(active.values) {
                    finish(transfer, .failure(WebhookError(.shutdown, "the webhook client stopped")))
                }
                for handle in idleHandles { curl_easy_cleanup(handle) }
                idleHandles.removeAll()
                shared.multi.close()
                return
            }

            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                    let transfer = byHandle[easy]
                else { continue }
                complete(transfer, code: herald_msg_result(message))
            }
            // Sleeps until a socket is ready, a timeout of libcurl's is due, or wakeup().
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private mutating func start(_ transfer: CurlTransfer) {
        let easy = idleHandles.popLast() ?? curl_easy_init()!
        transfer.easy = easy
        let request = transfer.request
        let userdata = Unmanaged.passUnretained(transfer).toOpaque()

        var headers: UnsafeMutablePointer<curl_slist>?
        // Herald's JSON unless the request says otherwise (a channel's form-encoded body).
        if !request.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
            headers = curl_slist_append(headers, "Content-Type: application/json")
        }
        // No "Expect: 100-continue" round trip for larger bodies.
        headers = curl_slist_append(headers, "Expect:")
        for (name, value) in request.headers {
            headers = curl_slist_append(headers, "\(name): \(value)")
        }
        transfer.headerList = headers

        herald_easy_setopt_string(easy, CURLOPT_URL, request.url)
        herald_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        herald_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        herald_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        herald_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout.milliseconds))
        herald_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(request.timeout.milliseconds))
        herald_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        herald_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        if let caBundle = request.caBundle { herald_easy_setopt_string(easy, CURLOPT_CAINFO, caBundle) }
        herald_easy_setopt_string(easy, CURLOPT_USERAGENT, shared.userAgent)
        herald_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headers)
        if request.method == "GET" {
            herald_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        } else {
            // A POST always has a body (maybe empty); PUT, PATCH and DELETE when they carry one,
            // sent as POST sends it, under the method's name.
            if request.method == "POST" || !request.body.isEmpty { setBody(easy, request.body) }
            if request.method != "POST" { herald_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method) }
        }
        if let user = request.user, let password = request.password {
            herald_easy_setopt_long(easy, CURLOPT_HTTPAUTH, HERALD_CURLAUTH_BASIC)
            herald_easy_setopt_string(easy, CURLOPT_USERNAME, user)
            herald_easy_setopt_string(easy, CURLOPT_PASSWORD, password.value)
        }
        herald_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, transfer.errorBuffer)
        herald_easy_setopt_write_callback(easy, CURLOPT_WRITEFUNCTION, curlWriteBody)
        herald_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, userdata)
        herald_easy_setopt_write_callback(easy, CURLOPT_HEADERFUNCTION, curlReadHeader)
        herald_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, userdata)

        active[transfer.id] = transfer
        byHandle[easy] = transfer
        transfer.started = .now
        let added = curl_multi_add_handle(multi, easy)
        if added != CURLM_OK {
            finish(transfer, .failure(WebhookError(.transport, String(cString: curl_multi_strerror(added)))))
        }
    }

    /// The request body, sent as POST sends it.
    private func setBody(_ easy: UnsafeMutableRawPointer, _ body: [UInt8]) {
        herald_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        body.withUnsafeBytes { bytes in
            // COPYPOSTFIELDS copies, so the array need not outlive this call.
            _ = herald_easy_setopt_pointer(
                easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
        }
    }

    private mutating func complete(_ transfer: CurlTransfer, code: CURLcode) {
        let duration = ContinuousClock.now - transfer.started
        guard code == CURLE_OK else {
            let detail = transfer.errorText ?? String(cString: curl_easy_strerror(code))
            finish(transfer, .failure(WebhookError(Self.errorCode(code), detail)))
            return
        }
        var status = 0
        herald_easy_getinfo_long(transfer.easy, CURLINFO_RESPONSE_CODE, &status)
        var response = WebhookResponse(status: status, retryAfter: transfer.retryAfter, body: transfer.responseBody, duration: duration)
        response.contentType = transfer.contentType
        finish(transfer, .success(response))
    }

    /// Removes the transfer from libcurl, recycles its handle and answers the caller.
    private mutating func finish(_ transfer: CurlTransfer, _ result: Result<WebhookResponse, WebhookError>) {
        active[transfer.id] = nil
        if let easy = transfer.easy {
            byHandle[easy] = nil
            curl_multi_remove_handle(multi, easy)
            curl_easy_reset(easy)
            if idleHandles.count < 512 { idleHandles.append(easy) } else { curl_easy_cleanup(easy) }
            transfer.easy = nil
        }
        transfer.completion(result)
    }

    static func errorCode(_ code: CURLcode) -> WebhookError.Code {
        switch code {
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: .connectionFailed
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: .invalidURL
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS:
            .tls
        default: .transport
        }
    }
}

/// libcurl's write callback: keeps the first `maxResponseBytes` of the response body.
private let curlWriteBody: curl_write_callback = { pointer, size, count, userdata in
    let length = size * count
    guard let pointer, let userdata else { return length }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    let room = transfer.request.maxResponseBytes - transfer.responseBody.count
    if room > 0 {
        let bytes = UnsafeRawBufferPointer(start: pointer, count: min(room, length))
        transfer.responseBody.append(contentsOf: bytes)
    }
    return length
}

/// libcurl's header callback: picks `Retry-After` and `Content-Type` out of the final
/// response's headers.
private let curlReadHeader: curl_write_callback = { pointer, size, count, userdata in
    let length = size * count
    guard let pointer, let userdata else { return length }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    // Most lines are neither a status line nor Retry-After: skip them without making a String.
    guard length > 0 else { return length }
    let first = UInt8(bitPattern: pointer[0]) | 0x20
    guard first == UInt8(ascii: "h") || first == UInt8(ascii: "r") || first == UInt8(ascii: "c") else { return length }
    let line = String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new response (after a 100 Continue, say) starts.
        transfer.retryAfter = nil
        transfer.contentType = nil
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        if name == "retry-after" { transfer.retryAfter = value } else if name == "content-type" { transfer.contentType = value }
    }
    return length
}
