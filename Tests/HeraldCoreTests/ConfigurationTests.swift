import Foundation
import HeraldCore
import Testing

/// A bad config stops start-up with one message naming the file, the line, the key and the reason.
@Suite struct ConfigurationTests {
    static let flow = """
        nodes:
          - say: "hi"
        """

    /// Writes `yaml` (and a flow next to it) into a fresh directory; returns the config path.
    static func write(_ yaml: String) throws -> String {
        let directory = NSTemporaryDirectory() + "herald-config-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try flow.write(toFile: directory + "/flow.yaml", atomically: true, encoding: .utf8)
        try yaml.write(toFile: directory + "/herald.yaml", atomically: true, encoding: .utf8)
        return directory + "/herald.yaml"
    }

    static let valid = """
        listen: 127.0.0.1:8080
        admin:
          keys: ["${ADMIN_KEY}"]
        storage: sqlite:./x.sqlite
        endpoints:
          - urlToken: demo
            flow: flow.yaml
            webhook:
              url: http://127.0.0.1:9000/hook
              user: bot
              password: ${HOOK_PASSWORD}
              signingSecret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
              format: cognigy
              timeout: 2s
              connectTimeout: 500ms
              retry:
                schedule: [1s, 10s]
                maxAttempts: 5
            apiKeys: ["k1"]
            sessionTTL: 10m
        """

    @Test func loadsAValidConfigWithEnvironmentSubstitution() throws {
        let path = try Self.write(Self.valid)
        let configuration = try HeraldConfiguration.load(path: path, environment: ["ADMIN_KEY": "a", "HOOK_PASSWORD": "p"])
        #expect(configuration.listen == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(configuration.adminKeys.map(\.key.value) == ["a"])
        #expect(configuration.storage == .sqlite(path: "./x.sqlite"))
        let endpoint = try #require(configuration.endpoint("demo"))
        #expect(endpoint.webhook.password?.value == "p")
        #expect(endpoint.webhook.format == .cognigy)
        #expect(endpoint.webhook.timeout == .seconds(2))
        #expect(endpoint.webhook.connectTimeout == .milliseconds(500))
        #expect(endpoint.webhook.retry.schedule == [.seconds(1), .seconds(10)])
        #expect(endpoint.webhook.retry.maxAttempts == 5)
        #expect(endpoint.apiKeys.map(\.value) == ["k1"])
        #expect(endpoint.sessionTTL == .seconds(600))
        #expect(endpoint.flow.nodes.count == 1)
    }

    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var yaml: String
        var line: Int?
        var mentions: [String]
    }

    static let cases: [Case] = [
        Case(description: "unset variable", yaml: valid.replacingOccurrences(of: "${HOOK_PASSWORD}", with: "${NOT_SET_ANYWHERE}"), line: 11,
             mentions: ["NOT_SET_ANYWHERE", "endpoints[0].webhook.password"]),
        Case(description: "unknown key", yaml: valid.replacingOccurrences(of: "sessionTTL: 10m", with: "sessionTtl: 10m"), line: 20,
             mentions: ["endpoints[0].sessionTtl", "unknown key"]),
        Case(description: "bad duration", yaml: valid.replacingOccurrences(of: "timeout: 2s", with: "timeout: soon"), line: 14,
             mentions: ["endpoints[0].webhook.timeout", "soon"]),
        Case(description: "bad url", yaml: valid.replacingOccurrences(of: "http://127.0.0.1:9000/hook", with: "ftp://x"), line: 9,
             mentions: ["webhook.url", "ftp://x"]),
        Case(description: "bad signing secret", yaml: valid.replacingOccurrences(of: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", with: "whsec_short"),
             line: 12, mentions: ["signingSecret", "whsec_"]),
        Case(description: "missing flow file", yaml: valid.replacingOccurrences(of: "flow: flow.yaml", with: "flow: nope.yaml"), line: 7,
             mentions: ["endpoints[0].flow", "nope.yaml"]),
        Case(description: "reserved token", yaml: valid.replacingOccurrences(of: "urlToken: demo", with: "urlToken: admin"), line: 6,
             mentions: ["urlToken", "reserved"]),
        Case(description: "bad listen", yaml: valid.replacingOccurrences(of: "listen: 127.0.0.1:8080", with: "listen: 8080"), line: 1,
             mentions: ["listen", "host:port"]),
        Case(description: "bad storage", yaml: valid.replacingOccurrences(of: "sqlite:./x.sqlite", with: "mysql://u:secretpw@h/db"), line: 4,
             mentions: ["storage", "u:***@h"]),
        Case(description: "no admin keys", yaml: valid.replacingOccurrences(of: "  keys: [\"${ADMIN_KEY}\"]", with: "  keys: []"), line: nil,
             mentions: ["admin.keys"]),
        Case(description: "broken YAML", yaml: valid.replacingOccurrences(of: "format: cognigy", with: "format: [cognigy"), line: nil,
             mentions: ["not valid YAML"]),
        Case(description: "bad format", yaml: valid.replacingOccurrences(of: "format: cognigy", with: "format: slack"), line: 13,
             mentions: ["format", "slack"]),
    ]

    @Test(arguments: cases)
    func aBadConfigNamesFileLineKeyAndReason(_ testCase: Case) throws {
        let path = try Self.write(testCase.yaml)
        do {
            _ = try HeraldConfiguration.load(path: path, environment: ["ADMIN_KEY": "a", "HOOK_PASSWORD": "p"])
            Issue.record("loaded a bad config")
        } catch {
            #expect(error.file == path)
            if let line = testCase.line { #expect(error.line == line, "\(error)") }
            for word in testCase.mentions { #expect(error.description.contains(word), "\(error) should mention \(word)") }
            #expect(!error.description.contains("secretpw"))
            #expect(error.description.hasPrefix(path))
        }
    }

    @Test func defaultsApplyWhereTheVariableHasOne() throws {
        let path = try Self.write(Self.valid.replacingOccurrences(of: "${HOOK_PASSWORD}", with: "${HOOK_PASSWORD:-fallback}"))
        let configuration = try HeraldConfiguration.load(path: path, environment: ["ADMIN_KEY": "a"])
        #expect(configuration.endpoints[0].webhook.password?.value == "fallback")
    }

    static let operators = valid.replacingOccurrences(
        of: "  keys: [\"${ADMIN_KEY}\"]",
        with: """
              keys:
                - "${ADMIN_KEY}"
                - {name: dashboards, key: "k-read", scopes: [read]}
                - name: ops
                  key: k-ops
                  scopes: [read, operate]
            """
    ).replacingOccurrences(
        of: "    sessionTTL: 10m",
        with: """
                sessionTTL: 10m
                handover:
                  webhook: {url: "http://127.0.0.1:9000/operators", timeout: 3s}
                  idleTimeout: 15m
            """)

    @Test func adminKeysHaveNamesAndScopesAndEndpointsAHandover() throws {
        let configuration = try HeraldConfiguration.load(path: try Self.write(Self.operators), environment: ["ADMIN_KEY": "a", "HOOK_PASSWORD": "p"])
        #expect(configuration.adminKeys.map(\.name) == ["key-1", "dashboards", "ops"])
        #expect(configuration.adminKeys.map(\.scope) == [.admin, .read, .operate])
        #expect(configuration.adminKeys.map(\.key.value) == ["a", "k-read", "k-ops"])
        #expect(configuration.adminKeys[2].scopes == [.read, .operate])
        #expect(configuration.adminKeys.identify("k-ops")?.name == "ops")
        #expect(configuration.adminKeys.identify("k-op") == nil)
        let handover = configuration.endpoints[0].handover
        #expect(handover.webhook?.url == "http://127.0.0.1:9000/operators")
        #expect(handover.webhook?.timeout == .seconds(3))
        #expect(handover.idleTimeout == .seconds(900))
    }

    @Test(arguments: [
        ("scopes: [read, operate]", "scopes: [write]", "'write' is not one of read, operate, admin"),
        ("scopes: [read, operate]", "scopes: []", "scopes: must be a list"),
        ("- name: ops\n      key:", "- key:", "name: is required"),
        ("name: dashboards", "name: ops", "'ops' is already the name of another key"),
        ("idleTimeout: 15m", "idleTimeout: later", "handover.idleTimeout"),
        ("idleTimeout: 15m", "idle: 15m", "unknown key"),
    ])
    func badAdminKeysAndHandoversAreNamed(_ replaced: String, _ by: String, _ mention: String) throws {
        let path = try Self.write(Self.operators.replacingOccurrences(of: replaced, with: by))
        do {
            _ = try HeraldConfiguration.load(path: path, environment: ["ADMIN_KEY": "a", "HOOK_PASSWORD": "p"])
            Issue.record("loaded a bad config")
        } catch {
            #expect(error.description.contains(mention), "\(error)")
            #expect(error.line != nil)
            #expect(!error.description.contains("k-ops") && !error.description.contains("k-read"))
        }
    }

    @Test func secretsPrintAsStars() throws {
        let secret = Secret("hunter2")
        #expect("\(secret)" == "***")
        #expect(String(reflecting: secret) == "***")
        #expect(StorageLocation.postgres(url: Secret("postgres://u:pw@h/db")).description == "postgres://u:***@h/db")
    }
}
