import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// The example flows behind the real endpoint: user messages and a back-end inject, over HTTP,
/// delivered to a real receiver.
@Suite struct FlowEndpointTests {
    static let key = ["X-API-Key": Fixtures.adminKey]

    @Test func orderStatusRemembersTheOrderAndReportsTheInjectedShipment() async throws {
        try await TestServices.withHerald({ try Fixtures.configuration(url: $0, flow: "order-status") }) { herald in
            let hi = try await herald.send("demo", user: "ada", session: "o1", text: "hi", query: "?wait=true")
            #expect(hi.json["outputs"]?[0]?["text"]?.stringValue?.contains("Which order") == true)
            let wrong = try await herald.send("demo", user: "ada", session: "o1", text: "12", query: "?wait=true")
            #expect(wrong.json["outputs"]?[0]?["text"]?.stringValue?.hasPrefix("That is not an order number") == true)
            let order = try await herald.send("demo", user: "ada", session: "o1", text: "123456", query: "?wait=true")
            #expect(order.json["outputs"]?[0]?["text"] == "Thanks! I'll let you know as soon as order 123456 ships.")
            #expect(order.json["outputs"]?[0]?["data"] == ["orderId": "123456", "status": "watching"])

            let detail = try await HTTP.get(herald.baseURL + "/admin/v1/sessions/demo/o1", headers: Self.key)
            #expect(detail.json["context"]?["orderId"] == "123456")

            let inject = try await herald.post(
                "/inject/demo?wait=true", json: #"{"userId":"ada","sessionId":"o1","data":{"event":"shipped","orderId":"123456","carrier":"DHL"}}"#,
                headers: Self.key)
            #expect(inject.status == 200)
            let shipped = try #require(inject.json["outputs"]?[0])
            #expect(shipped["text"] == "Good news: your order 123456 has shipped with DHL!")
            #expect(shipped["source"] == "inject")

            let arrived = try await herald.receiver.waitForAccepted(4)
            #expect(arrived.map(\.seq) == [1, 2, 3, 4])
            #expect(arrived.last?.text == "Good news: your order 123456 has shipped with DHL!")
            #expect(arrived.last?.body["source"] == "inject")
        }
    }

    @Test func aFlowThatLoopsStopsWithAnErrorOutput() async throws {
        let directory = try Fixtures.temporaryDirectory()
        let path = directory + "/loop.yaml"
        try """
            nodes:
              - id: again
                set:
                  context.n: "{{ default(context.n, 0) + 1 }}"
              - goto: again
            """.write(toFile: path, atomically: true, encoding: .utf8)
        try await TestServices.withHerald({ url in
            var configuration = try Fixtures.configuration(url: url)
            configuration.endpoints[0].flow = try Flow.load(path: path)
            return configuration
        }) { herald in
            let response = try await herald.send("demo", session: "loop", text: "go", query: "?wait=true")
            #expect(response.status == 200)
            let output = try #require(response.json["outputs"]?[0])
            #expect(output["type"] == "error")
            #expect(output["text"]?.stringValue?.contains("steps") == true)
            // The server keeps serving.
            #expect(try await herald.send("demo", session: "other", text: "still there?").status == 202)
        }
    }
}
