import ArgumentParser
import HeraldWebhook
import Synchronization

/// `herald-bench load`: POSTs messages `{"userId":"u<i>","sessionId":"<prefix><i>","text":"hi",
/// "data":{"sentAt":<µs>}}` to one endpoint URL, spread round-robin over `--sessions` sessions,
/// and prints one JSON report: sent, accepted (2xx), errors, accepted/s and request latency.
///
/// Two modes:
/// - `--max`: closed loop, `--connections` requests in flight, each sent as soon as the
///   previous one on its connection is answered (maximum throughput);
/// - `--rate R`: open loop, R messages per second on a fixed schedule whatever the answers
///   (latency at a given load); at most `--connections` in flight, beyond that a message is
///   counted as `skipped`.
///
/// Two clients: `nio` (the default) drives keep-alive HTTP/1.1 connections from one SwiftNIO
/// event loop, cheap enough per request that the load tool is not what limits a fast server on
/// two cores; `curl` uses Herald's own ``CurlWebhookClient`` (libcurl's multi interface), the
/// client Herald delivers webhooks with, so its figures show that client's ceiling.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Drive load at an endpoint and report throughput and latency as JSON.")

    enum Client: String, ExpressibleByArgument, CaseIterable {
        case nio
        case curl
    }

    @Option(help: "The endpoint URL, e.g. http://127.0.0.1:8080/bench.")
    var url: String

    @Option(help: "Open loop: messages per second.")
    var rate: Double?

    @Flag(help: "Closed loop: as many messages as the server takes, --connections in flight.")
    var max = false

    @Option(help: "Seconds to send for.")
    var duration: Double = 10

    @Option(help: "Stop after this many messages (and send each session's message in turn).")
    var count: Int?

    @Option(help: "How many sessions to spread the messages over.")
    var sessions: Int = 1000

    @Option(help: "Requests in flight (connections).")
    var connections: Int = 64

    @Option(help: "Prefix of the session ids (sessions are <prefix>0, <prefix>1, ...).")
    var sessionPrefix: String = "s"

    @Option(help: "Extra request header, 'Name: value' (repeatable).")
    var header: [String] = []

    @Option(help: "Schedule each message for this RFC 3339 time: adds \"sendAt\" (with a notify or inject URL and an admin key header).")
    var sendAt: String?

    @Option(help: "The HTTP client: nio or curl (Herald's CurlWebhookClient).")
    var client: Client = .nio

    func validate() throws {
        guard max != (rate != nil) else { throw ValidationError("give either --max or --rate") }
        guard sessions > 0, connections > 0, duration > 0 else { throw ValidationError("--sessions, --connections and --duration must be positive") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
        for line in header where !line.contains(":") { throw ValidationError("--header must be 'Name: value', not '\(line)'") }
        if client == .nio, TargetURL(url) == nil { throw ValidationError("--url must be http://host:port/path") }
    }

    func run() async throws {
        let headers = header.map { line in
            let colon = line.firstIndex(of: ":")!
            return (name: String(line[..<colon]), value: String(line[line.index(after: colon)...]).trimmingSpaces)
        }
        let messages = Messages(sessions: sessions, sessionPrefix: sessionPrefix, sendAt: sendAt)
        let started = nowMicros()
        let clock = ContinuousClock()
        let start = clock.now
        let stats: LoadStats
        switch client {
        case .nio:
            let plan = LoadPlan(
                target: TargetURL(url)!, headers: headers, messages: messages, rate: rate, duration: .seconds(duration), count: count,
                connections: connections)
            stats = try await NIOLoad.run(plan)
        case .curl:
            let generator = CurlLoad(client: CurlWebhookClient(userAgent: "herald-bench"), url: url, headers: headers, messages: messages)
            if let rate {
                stats = await generator.openLoop(rate: rate, duration: .seconds(duration), inFlight: connections)
            } else {
                stats = await generator.closedLoop(connections: connections, duration: .seconds(duration), count: count)
            }
            generator.client.stop()
        }
        let elapsed = start.duration(to: clock.now)
        print(
            stats.report(
                mode: rate == nil ? "max" : "rate", rate: rate, sessions: sessions, connections: connections, elapsed: elapsed, started: started))
    }
}

/// The messages of a run: message n goes to session n % sessions.
struct Messages: Sendable {
    var sessions: Int
    var sessionPrefix: String
    /// Scheduled messages: due at this time.
    var sendAt: String? = nil

    /// The body of message `number`, stamped with the current time.
    func body(_ number: Int) -> String {
        let session = number % sessions
        let schedule = sendAt.map { #","sendAt":"\#($0)""# } ?? ""
        return #"{"userId":"u\#(session)","sessionId":"\#(sessionPrefix)\#(session)","text":"hi","data":{"sentAt":\#(nowMicros())}\#(schedule)}"#
    }
}

/// Counts of one sender, merged into the run's.
struct LoadStats: Sendable {
    var sent = 0
    var accepted = 0
    var errors = 0
    var skipped = 0
    var statuses: [Int: Int] = [:]
    /// Request latency (send → response), µs.
    var latencies: [Int64] = []
    var firstError: String?

    /// An answer with `status`, `micros` after the request was sent.
    mutating func record(status: Int, micros: Int64, body: () -> String) {
        latencies.append(micros)
        statuses[status, default: 0] += 1
        if (200..<300).contains(status) {
            accepted += 1
        } else if firstError == nil {
            firstError = "HTTP \(status): \(body())"
        }
    }

    /// A request that got no answer.
    mutating func record(error: String) {
        errors += 1
        if firstError == nil { firstError = error }
    }

    mutating func merge(_ other: LoadStats) {
        sent += other.sent
        accepted += other.accepted
        errors += other.errors
        skipped += other.skipped
        statuses.merge(other.statuses, uniquingKeysWith: +)
        latencies.append(contentsOf: other.latencies)
        if firstError == nil { firstError = other.firstError }
    }

    func report(mode: String, rate: Double?, sessions: Int, connections: Int, elapsed: Duration, started: Int64) -> String {
        let seconds = elapsed.seconds
        let statusText = statuses.sorted { $0.key < $1.key }.map { #""\#($0.key)":\#($0.value)"# }.joined(separator: ",")
        let errorText = firstError.map { "\"" + $0.jsonEscaped + "\"" } ?? "null"
        return #"{"mode":"\#(mode)","rate":\#(rate.map { String($0) } ?? "null"),"sessions":\#(sessions),"connections":\#(connections),"#
            + #""sent":\#(sent),"accepted":\#(accepted),"errors":\#(errors),"skipped":\#(skipped),"statuses":{\#(statusText)},"#
            + #""seconds":\#(Percentiles.format(seconds)),"acceptedPerSecond":\#(Percentiles.format(Double(accepted) / seconds)),"#
            + #""startedAtMicros":\#(started),"endedAtMicros":\#(started + Int64(elapsed.microseconds)),"#
            + #""latencyMs":\#(Percentiles(micros: latencies).json),"firstError":\#(errorText)}"#
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    var microseconds: Double { seconds * 1e6 }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }

    var jsonEscaped: String {
        var result = ""
        for character in unicodeScalars {
            switch character {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if character.value < 0x20 {
                    result += "\\u00" + String(character.value, radix: 16).leftPadded(to: 2)
                } else {
                    result.unicodeScalars.append(character)
                }
            }
        }
        return result
    }

    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: Swift.max(0, width - count)) + self
    }
}
