import Foundation
import HeraldCore
import HeraldHTTP
import HeraldTestSupport
import Testing

/// A 410 Gone pauses the endpoint until an operator resumes it; its outputs wait, in order.
@Suite struct PauseResumeTests {
    static let key = ["X-API-Key": Fixtures.adminKey]

    @Test func goneStopsDeliveryUntilResumed() async throws {
        let receiver = TestReceiver { _, _ in .init(status: 410) }
        try await TestServices.withHerald(receiver: receiver, { try Fixtures.configuration(url: $0) }) { herald in
            #expect(try await herald.send("demo", session: "p", text: "one").status == 202)
            try await receiver.wait { $0.count >= 1 }
            #expect(try await herald.send("demo", session: "p", text: "two").status == 202)
            #expect(try await herald.send("demo", session: "q", text: "three").status == 202)
            try await Task.sleep(for: .milliseconds(500))
            #expect(receiver.all.count == 1)  // nothing more is sent to a paused endpoint

            let endpoint = try await HTTP.get(herald.baseURL + "/admin/v1/endpoints/demo", headers: Self.key)
            #expect(endpoint.json["paused"] == true)
            #expect(endpoint.json["backlog"] == 3)

            receiver.setBehavior { _, _ in .init(status: 200) }
            let resume = try await HTTP.request("POST", herald.baseURL + "/admin/v1/endpoints/demo/resume", headers: Self.key)
            #expect(resume.status == 200)
            let delivered = try await receiver.waitForAccepted(3)
            #expect(delivered.filter { $0.sessionId == "p" }.map(\.text) == ["You said: one", "You said: two"])
            #expect(delivered.contains { $0.text == "You said: three" })
            let after = try await HTTP.get(herald.baseURL + "/admin/v1/endpoints/demo", headers: Self.key)
            #expect(after.json["paused"] == false)
        }
    }
}
