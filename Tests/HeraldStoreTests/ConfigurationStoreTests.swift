import Foundation
import HeraldTestSupport
import Testing

@testable import HeraldCore

/// What the stores keep for change without a restart (SPEC §14), on memory, SQLite and
/// PostgreSQL alike: flow versions, the version a session runs on and an output came from,
/// flow names, and endpoints made through the admin API.
@Suite struct ConfigurationStoreTests {
    static let key = SessionKey(urlToken: "demo", sessionId: "s1")

    @Test(arguments: Fixtures.Store.allCases)
    func flowVersionsAreKeptOnceAndReadBack(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            let yaml = "name: grüße\nnodes:\n  - say: \"Hallo 👋 {{ input.text }}\"\n"
            let flow = try Flow.load(yaml: yaml, file: "flows/greet.yaml")
            #expect(flow.version == Flow.version(of: yaml))
            #expect(flow.version.count == 16)
            let stored = try #require(StoredFlow(flow, createdAt: Timestamp(milliseconds: 5_000)))
            try await store.saveFlows([stored])
            // Saving the same version again (another instance, a restart) changes nothing.
            try await store.saveFlows([
                StoredFlow(version: flow.version, yaml: yaml, file: "elsewhere.yaml", createdAt: Timestamp(milliseconds: 9_000))
            ])
            let read = try #require(try await store.storedFlow(version: flow.version))
            #expect(read == stored)
            #expect(try read.load().version == flow.version)
            #expect(try await store.storedFlow(version: "0000000000000000") == nil)
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func sessionsAndOutputsKeepTheirFlowVersion(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            var session = Session(key: Self.key, userId: "u1", now: Timestamp(milliseconds: 1_000))
            session.version = 1
            session.nextSeq = 2
            session.flowVersion = "0123456789abcdef"
            session.waiting = FlowWait(nodeId: "name")
            var output = Output(
                session: Self.key, userId: "u1", seq: 1, type: .output, text: "What is your name?", data: nil, inputId: nil, source: .user,
                timestamp: Timestamp(milliseconds: 1_000))
            output.flowVersion = "0123456789abcdef"
            var notify = Output(
                session: Self.key, userId: "u1", seq: 2, type: .notify, text: "n", data: nil, inputId: nil, source: nil,
                timestamp: Timestamp(milliseconds: 1_000))
            notify.seq = 2
            session.nextSeq = 3
            try await store.apply([.session(SessionCommit(session: session, expectedVersion: 0, input: nil, outputs: [output, notify]))])
            #expect(try await store.session(Self.key)?.flowVersion == "0123456789abcdef")
            let outputs = try await store.undeliveredOutputs().map(\.output)
            #expect(outputs.map(\.flowVersion) == ["0123456789abcdef", nil])
            #expect(try await store.delivery(outputId: output.id)?.output.flowVersion == "0123456789abcdef")
            // The session moves to another version with its next run.
            session.version = 2
            session.flowVersion = "fedcba9876543210"
            try await store.apply([.session(SessionCommit(session: session, expectedVersion: 1, input: nil, outputs: []))])
            #expect(try await store.session(Self.key)?.flowVersion == "fedcba9876543210")
        }
    }

    @Test(arguments: Fixtures.Store.allCases)
    func endpointsAndFlowNamesHaveIncreasingRevisions(_ kind: Fixtures.Store) async throws {
        try await kind.run { store in
            #expect(try await store.configurationRevision() == 0)
            #expect(try await store.endpointDefinitions().isEmpty)
            let named = try await store.nameFlow(FlowName(name: "greet", version: "0123456789abcdef", updatedAt: Timestamp(milliseconds: 1_000)))
            #expect(named.revision > 0)
            let settings: JSON = [
                "urlToken": "tenant-1", "webhook": ["url": "https://example.com/hook", "password": "s3cret\u{0}x"], "apiKeys": ["k"],
            ]
            let first = try await store.saveEndpoint(
                EndpointDefinition(
                    urlToken: "tenant-1", settings: settings, flow: .name("greet"), updatedAt: Timestamp(milliseconds: 2_000), updatedBy: "ops"))
            #expect(first.revision > named.revision)
            let second = try await store.saveEndpoint(
                EndpointDefinition(
                    urlToken: "tenant-2", settings: ["urlToken": "tenant-2"], flow: .version("0123456789abcdef"),
                    updatedAt: Timestamp(milliseconds: 3_000),
                    updatedBy: "key-1"))
            #expect(second.revision > first.revision)
            var deleted = first
            deleted.deleted = true
            deleted.updatedBy = "key-2"
            let third = try await store.saveEndpoint(deleted)
            #expect(third.revision > second.revision)
            #expect(try await store.configurationRevision() == third.revision)

            let definitions = try await store.endpointDefinitions()
            #expect(definitions.map(\.urlToken) == ["tenant-1", "tenant-2"])
            #expect(definitions[0] == third)
            #expect(definitions[0].settings == settings)
            #expect(definitions[0].deleted)
            #expect(definitions[1].flow == .version("0123456789abcdef"))
            #expect(!definitions[1].deleted)

            let renamed = try await store.nameFlow(FlowName(name: "greet", version: "fedcba9876543210", updatedAt: Timestamp(milliseconds: 4_000)))
            #expect(try await store.flowNames() == [renamed])
            #expect(try await store.configurationRevision() == renamed.revision)
        }
    }
}
