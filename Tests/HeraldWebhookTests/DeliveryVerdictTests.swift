@testable import HeraldWebhook
import HeraldCore
import Testing

/// What each webhook answer means for delivery (SPEC §4).
@Suite struct DeliveryVerdictTests {
    static let policy = RetryPolicy(schedule: [.seconds(1)], jitter: 0, throttleDelay: .seconds(60))

    static func response(_ status: Int, retryAfter: String? = nil) -> Result<WebhookResponse, WebhookError> {
        .success(WebhookResponse(status: status, retryAfter: retryAfter, body: [], duration: .zero))
    }

    @Test(arguments: [200, 201, 202, 204, 299])
    func twoHundredsAreDelivered(_ status: Int) {
        #expect(DeliveryService.judge(Self.response(status), policy: Self.policy).kind == .delivered)
    }

    @Test(arguments: [408, 425, 500, 502, 503, 504])
    func transientStatusesAreRetried(_ status: Int) {
        #expect(DeliveryService.judge(Self.response(status), policy: Self.policy).kind == .retry(atLeast: nil))
    }

    @Test(arguments: [301, 302, 307, 400, 401, 403, 404, 409, 422])
    func otherStatusesAreDeadAtOnce(_ status: Int) {
        let verdict = DeliveryService.judge(Self.response(status), policy: Self.policy)
        #expect(verdict.kind == .dead)
        #expect(verdict.error?.contains("\(status)") == true)
    }

    @Test func goneStopsTheEndpoint() {
        #expect(DeliveryService.judge(Self.response(410), policy: Self.policy).kind == .pause)
    }

    @Test func tooManyRequestsAndTimeoutsWaitAtLeastTheThrottleDelay() {
        #expect(DeliveryService.judge(Self.response(429), policy: Self.policy).kind == .retry(atLeast: .seconds(60)))
        #expect(DeliveryService.judge(Self.response(429, retryAfter: "120"), policy: Self.policy).kind == .retry(atLeast: .seconds(120)))
        #expect(DeliveryService.judge(.failure(.timeout), policy: Self.policy).kind == .retry(atLeast: .seconds(60)))
    }

    @Test func retryAfterIsReadAsSecondsOrADate() {
        #expect(DeliveryService.judge(Self.response(503, retryAfter: "7"), policy: Self.policy).kind == .retry(atLeast: .seconds(7)))
        #expect(DeliveryService.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == .zero)
        #expect(DeliveryService.retryAfter("soon") == nil)
    }

    @Test func connectionErrorsAreRetriedAndBadURLsAreNot() {
        #expect(DeliveryService.judge(.failure(.connectionFailed), policy: Self.policy).kind == .retry(atLeast: nil))
        #expect(DeliveryService.judge(.failure(.tls), policy: Self.policy).kind == .retry(atLeast: nil))
        #expect(DeliveryService.judge(.failure(.invalidURL), policy: Self.policy).kind == .dead)
    }
}
