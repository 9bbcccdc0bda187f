package workflows_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/homeward/homeward/contract"
)

func TestACompleteCaseRunsEveryStageToCompleted(t *testing.T) {
	c := newCase(t).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("cash", "500.00"), item("in_kind", "600.00"), item("in_kind", "600.00"), item("referral", "0"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(8*time.Hour, deliver("delivery", "p1-2")).
		at(8*time.Hour+time.Minute, deliver("delivery-again", "p1-2")).
		at(9*time.Hour, deliver("delivery-3", "p1-3")).
		at(5*time.Hour+90*day+time.Hour, visit(1, "psychosocial counselling")).
		at(5*time.Hour+180*day+time.Hour, visit(2)).
		at(5*time.Hour+365*day+time.Hour, visit(3))
	st := c.run()

	require.Equal(t, contract.StatusClosed, st.Status)
	require.Equal(t, contract.ClosedCompleted, st.ClosureReason)
	require.Equal(t, 2, c.runs, "the follow-up year runs in a fresh history (continue-as-new)")
	for _, label := range []string{"counselling", "screening", "plan", "approve", "delivery", "delivery-3", "visit-1", "visit-2", "visit-3"} {
		require.Empty(t, c.refusal(label), label)
	}
	require.Equal(t, contract.RefusedDuplicate, c.refusal("delivery-again"))

	require.Equal(t, []string{"pay/p1-1=1", "pay/p1-2=1", "pay/p1-3=1"}, c.p.keysWithPrefix("/pay/"), "every payment exactly once")
	require.Equal(t, contract.PlanApproved, st.Plan.Status)
	require.Equal(t, "1700.00", st.Plan.Total.Amount)
	require.Equal(t, contract.ItemPaid, st.Procurement[1].Status)
	require.Equal(t, "supplier-1", st.Procurement[1].ChosenSupplier, "the lowest compliant quote")
	require.Len(t, st.Procurement[1].Quotes, 1, "below the threshold one quote is enough")
	require.Equal(t, contract.ItemReferred, st.Procurement[3].Status)
	require.Equal(t, contract.BookingTicketed, st.Travel.BookingStatus)
	require.True(t, st.Travel.PreArrivalSent)
	require.False(t, st.Medical.PAMAOpened, "no health needs: no post-arrival medical assistance")
	require.Len(t, st.Monitoring, 3)
	for _, v := range st.Monitoring {
		require.Equal(t, contract.VisitDone, v.Status)
		require.InDelta(t, 0.8, *v.Composite, 1e-9)
	}
	require.Equal(t, []string{"visit/1/referral/0=1"}, c.p.keysWithPrefix("/visit/"))
	// Visits fall due at their exact offsets after arrival.
	arrival := st.Arrival.ArrivedAt
	require.Equal(t, start.Add(5*time.Hour), arrival)
	for i, off := range testRules().MonitoringOffsets {
		require.Equal(t, arrival.Add(off), st.Monitoring[i].DueAt)
	}
	// Each visit waits on the caseworker from its due date (version 5): the case
	// file says so, and the inbox leaves the case out until then.
	var opens []time.Time
	for _, w := range c.p.writes {
		if f := w.State.WaitingFrom; f != nil && !slices.ContainsFunc(opens, f.Equal) {
			require.Equal(t, contract.StageMonitoring, w.State.Stage)
			opens = append(opens, *f)
		}
	}
	require.Len(t, opens, 3)
	for i, v := range st.Monitoring {
		require.True(t, v.DueAt.Equal(opens[i]), "visit %d opens at its due date", v.Visit)
	}
	// The registry hears of every stage, through the case file's outbox (version 5):
	// each change with the write that records it, in the case's order, and no activity.
	require.Zero(t, c.p.count("UpsertRegistry"))
	stages := c.p.registryStages(t)
	require.Equal(t, []contract.Stage{contract.StageIntake, contract.StageCounselling, contract.StageScreening,
		contract.StageMedicalClearance, contract.StageTravel, contract.StageArrival, contract.StageReintegrationPlanning,
		contract.StagePlanApproval, contract.StageProcurement, contract.StageMonitoring, contract.StageClosed}, stages)
	require.Equal(t, 0, c.p.count("CancelFlight"))
	types := c.p.eventTypes()
	require.Equal(t, "registered", types[0])
	require.Equal(t, "closed", types[len(types)-1])
	c.p.requireWrittenOncePerTask(t, st)
}

func TestPathsThatCloseTheCaseEarly(t *testing.T) {
	for name, tc := range map[string]struct {
		script func(c *caseTest)
		reason contract.ClosureReason
		check  func(t *testing.T, c *caseTest, st contract.CaseState)
	}{
		"withdrawn at counselling": {
			script: func(c *caseTest) { c.at(time.Hour, counselling("withdrawn")) },
			reason: contract.ClosedWithdrawn,
		},
		"high risk not cleared": {
			script: func(c *caseTest) {
				c.at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("high", "victim_of_trafficking")).
					at(3*time.Hour, func(c *caseTest) {
						c.act("clearance-by-caseworker", contract.UpdateClearance, contract.Action[contract.Clearance]{Actor: cwDE,
							Body: contract.Clearance{Decision: contract.DecisionCleared}})
					}).
					at(4*time.Hour, func(c *caseTest) {
						c.act("clearance", contract.UpdateClearance, contract.Action[contract.Clearance]{Actor: apDE,
							Body: contract.Clearance{Decision: contract.DecisionNotCleared, Comment: "protection concerns"}})
					})
			},
			reason: contract.ClosedIneligible,
			check: func(t *testing.T, c *caseTest, st contract.CaseState) {
				require.Equal(t, contract.RefusedForbidden, c.refusal("clearance-by-caseworker"))
				require.Empty(t, c.refusal("clearance"))
				require.Equal(t, []string{"supervisor"}, c.p.notified("severe_screening"))
				require.Equal(t, 0, c.p.count("ConfirmEligibility"), "not cleared: the receiving office is not asked")
			},
		},
		"unfit": {
			script: func(c *caseTest) {
				c.at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).at(3*time.Hour, medical("unfit", 0, 0))
			},
			reason: contract.ClosedNotFit,
		},
		"no-show beyond the rebookings": {
			script: func(c *caseTest) {
				c.at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).at(3*time.Hour, medical("fit_with_escort", 30*day, 0)).
					at(4*time.Hour, noShow).at(5*time.Hour, noShow).at(6*time.Hour, noShow)
			},
			reason: contract.ClosedNoShow,
			check: func(t *testing.T, c *caseTest, st contract.CaseState) {
				require.Equal(t, 3, st.Travel.NoShows)
				require.Equal(t, 3, c.p.count("HoldFlight"), "the first booking and two rebookings")
				require.Equal(t, 3, c.p.count("BookEscort"), "an escort with each flight")
				require.Equal(t, 3, c.p.count("CancelEscort"), "each escort released after its no-show")
				require.Equal(t, 0, c.p.count("CancelFlight"), "a ticketed booking is never also cancelled")
			},
		},
		"withdrawal before departure undoes the bookings": {
			script: withdrawnWithAFlightHeld,
			reason: contract.ClosedWithdrawn,
			check: func(t *testing.T, c *caseTest, st contract.CaseState) {
				require.Empty(t, c.refusal("withdrawal"))
				require.Equal(t, contract.BookingCancelled, st.Travel.BookingStatus)
				require.Equal(t, 1, c.p.count("CancelFlight"))
				require.Equal(t, 0, c.p.count("TicketFlight"))
			},
		},
		"a release the partner refuses does not hold the closure up": {
			script: func(c *caseTest) {
				c.p.fail["CancelFlight"] = []error{temporal.NewNonRetryableApplicationError("travel: rejected (409): booking is ticketed", "PartnerRejected", nil)}
				withdrawnWithAFlightHeld(c)
			},
			reason: contract.ClosedWithdrawn,
			check: func(t *testing.T, c *caseTest, st contract.CaseState) {
				require.Empty(t, c.refusal("withdrawal"))
				require.Equal(t, 1, c.p.count("CancelFlight"), "a refusal is not retried")
				require.Equal(t, contract.BookingHeld, st.Travel.BookingStatus, "the case says the hold was not released")
				require.Empty(t, st.Blocked)
				require.Contains(t, c.p.eventTypes(), "undo_refused")
				require.Equal(t, []string{"manager"}, c.p.notified("undo_refused"))
			},
		},
		"deceased after arrival": {
			script: func(c *caseTest) { c.toArrival().at(6*time.Hour, withdraw("deceased")) },
			reason: contract.ClosedDeceased,
			check: func(t *testing.T, c *caseTest, st contract.CaseState) {
				require.Equal(t, 0, c.p.count("CancelFlight"), "nothing to undo after departure")
			},
		},
		"absconded while a follow-up visit is due": {
			script: func(c *caseTest) {
				c.toArrival().at(6*time.Hour, plan("plan", cwGN, item("cash", "500.00"))).
					at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
					at(5*time.Hour+90*day+time.Hour, withdraw("absconded"))
			},
			reason: contract.ClosedAbsconded,
			check: func(t *testing.T, c *caseTest, st contract.CaseState) {
				require.Equal(t, contract.VisitScheduled, st.Monitoring[0].Status, "the visit was open (due), not missed")
				require.NotContains(t, c.p.eventTypes(), "visit_missed")
				require.Empty(t, c.p.notified("missed_visit"))
			},
		},
		"absconded during procurement: nothing more is paid": {
			script: func(c *caseTest) {
				c.toArrival().at(6*time.Hour, plan("plan", cwGN, item("in_kind", "900.00"))).
					at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
					at(8*time.Hour, withdraw("absconded"))
			},
			reason: contract.ClosedAbsconded,
			check: func(t *testing.T, c *caseTest, st contract.CaseState) {
				require.Equal(t, 0, c.p.count("Pay"))
				require.Equal(t, contract.ItemCancelled, st.Procurement[0].Status)
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := newCase(t)
			tc.script(c)
			st := c.run()
			require.Equal(t, contract.StatusClosed, st.Status)
			require.Equal(t, tc.reason, st.ClosureReason)
			require.Equal(t, contract.StageClosed, st.Stage)
			// Every path ends within its stages' SLAs: a closure is never an overdue stage.
			require.NotContains(t, c.p.eventTypes(), "overdue")
			require.Empty(t, c.p.notified("overdue"))
			if tc.check != nil {
				tc.check(t, c, st)
			}
		})
	}
}

func TestMedicalReassessmentWaitsTheGivenDays(t *testing.T) {
	c := newCase(t).
		at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("unfit_temporary", 0, 10)).
		at(3*time.Hour+10*day-time.Minute, func(c *caseTest) {
			require.Equal(c.t, 1, c.p.count("RequestMedicalAssessment"), "not asked again before the 10 days")
		}).
		at(3*time.Hour+10*day+time.Minute, func(c *caseTest) {
			require.Equal(c.t, 2, c.p.count("RequestMedicalAssessment"), "asked again exactly after 10 days")
		}).
		at(3*time.Hour+10*day+time.Hour, medical("fit", 30*day, 0)).
		at(3*time.Hour+10*day+2*time.Hour, withdraw("withdrawn"))
	st := c.run()
	require.Equal(t, contract.ClosedWithdrawn, st.ClosureReason)
	require.Equal(t, 2, st.Medical.Requests)
	require.Equal(t, 1, c.p.count("TicketFlight"), "booked and ticketed once cleared")
	require.Equal(t, contract.BookingRefunded, st.Travel.BookingStatus, "and refunded at the withdrawal (version 7)")
}

func TestAnExpiringClearanceIsRenewedBeforeTicketing(t *testing.T) {
	c := newCase(t).
		at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit", 2*day, 0)). // the flight leaves in 3 days
		at(4*time.Hour, func(c *caseTest) {
			require.Equal(c.t, 0, c.p.count("TicketFlight"), "not ticketed on an expiring clearance")
			require.Equal(c.t, 2, c.p.count("RequestMedicalAssessment"))
		}).
		at(5*time.Hour, medical("fit", 30*day, 0)).
		at(6*time.Hour, departed).
		at(7*time.Hour, withdraw("absconded"))
	st := c.run()
	require.Equal(t, 1, c.p.count("TicketFlight"))
	require.Equal(t, 1, c.p.count("HoldFlight"), "the held booking is kept")
	require.Equal(t, contract.ClosedAbsconded, st.ClosureReason)
}

func TestHealthCasesGetAnEscortAndPostArrivalMedicalAssistance(t *testing.T) {
	c := newCase(t, func(in *contract.CaseInput) { in.HealthNeeds = true }).
		at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("medium", "health_needs")).
		at(3*time.Hour, medical("fit_with_escort", 30*day, 0)).
		at(4*time.Hour, departed).at(5*time.Hour, arrived).
		at(5*time.Hour+time.Minute, arrived). // the receiving office confirms twice
		at(6*time.Hour, withdraw("withdrawn"))
	st := c.run()
	require.Equal(t, 1, c.p.count("BookEscort"))
	require.Equal(t, contract.EscortBooked, st.Travel.EscortStatus, "an escort who travelled is not cancelled")
	require.True(t, st.Medical.PAMAOpened)
	require.Equal(t, 1, c.p.count("OpenPostArrivalMedical"))
}

func TestPlanApprovalRules(t *testing.T) {
	c := newCase(t, func(in *contract.CaseInput) { in.Adults, in.Minors = 2, 2 }).toArrival().
		at(6*time.Hour, plan("over-cap", cwGN, item("cash", "3000.00"), item("in_kind", "1500.00"))).
		at(6*time.Hour+time.Minute, plan("plan-v1", cwGN, item("cash", "1500.00"), item("in_kind", "1000.00"))).
		at(7*time.Hour, decide("self-approval", contract.Actor{User: "caseworker-gn", Role: contract.RoleApprover, Office: "GN-CKY"}, contract.DecisionApprove)).
		at(7*time.Hour+time.Minute, decide("caseworker-decides", cwDE, contract.DecisionApprove)).
		at(7*time.Hour+2*time.Minute, decide("changes", apGN, contract.DecisionRequestChanges)).
		at(8*time.Hour, plan("plan-v2", cwGN, item("cash", "300.00"), item("in_kind", "2600.00"))).
		at(9*time.Hour, decide("first-approval", apGN, contract.DecisionApprove)).
		at(9*time.Hour+time.Minute, decide("same-approver-again", apGN, contract.DecisionApprove)).
		at(9*time.Hour+2*time.Minute, decide("second-from-receiving-office", apGN2, contract.DecisionApprove)).
		at(9*time.Hour+3*time.Minute, decide("second-from-sending-office", apDE, contract.DecisionApprove)).
		at(9*time.Hour+4*time.Minute, decide("too-late", apGN2, contract.DecisionReject)).
		at(10*time.Hour, func(c *caseTest) {
			st := c.state()
			require.Equal(c.t, contract.StageProcurement, st.Stage)
			require.Len(c.t, st.Procurement[1].Quotes, 3, "at or above the threshold three quotes")
		}).
		at(11*time.Hour, withdraw("withdrawn"))
	st := c.run()
	require.Equal(t, contract.RefusedInvalid, c.refusal("over-cap"), "4500 is over the family cap of 3000")
	require.Empty(t, c.refusal("plan-v1"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("self-approval"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("caseworker-decides"))
	require.Empty(t, c.refusal("changes"))
	require.Empty(t, c.refusal("plan-v2"))
	require.Empty(t, c.refusal("first-approval"))
	require.Equal(t, contract.RefusedDuplicate, c.refusal("same-approver-again"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("second-from-receiving-office"))
	require.Empty(t, c.refusal("second-from-sending-office"))
	require.Equal(t, contract.RefusedWrongStage, c.refusal("too-late"))
	require.Equal(t, 2, st.Plan.Version)
	require.Len(t, st.Plan.Decisions, 2)
	require.Equal(t, "p2-2", st.Plan.Items[1].ID)
	require.Equal(t, []string{"pay/p2-1=1"}, c.p.keysWithPrefix("/pay/"), "the cash grant was paid; the undelivered item not")
}

func TestARejectedPlanGoesBackToPlanning(t *testing.T) {
	c := newCase(t).toArrival().
		at(6*time.Hour, plan("v1", cwGN, item("cash", "500.00"))).
		at(7*time.Hour, decide("reject", apGN, contract.DecisionReject)).
		at(7*time.Hour+time.Minute, func(c *caseTest) {
			st := c.state()
			require.Equal(c.t, contract.StageReintegrationPlanning, st.Stage)
			require.Equal(c.t, contract.PlanRejected, st.Plan.Status)
		}).
		at(8*time.Hour, plan("v2", cwGN, item("cash", "400.00"))).
		at(9*time.Hour, decide("approve", apDE, contract.DecisionApprove)).
		at(10*time.Hour, withdraw("withdrawn"))
	st := c.run()
	require.Empty(t, c.refusal("v2"))
	require.Equal(t, 2, st.Plan.Version)
	require.Equal(t, contract.PlanApproved, st.Plan.Status)
}

func TestActionsInTheWrongStageAreRefused(t *testing.T) {
	c := newCase(t).
		at(time.Minute, screening("low")).
		at(2*time.Minute, func(c *caseTest) { departed(c) }).
		at(3*time.Minute, deliver("delivery", "p1-1")).
		at(4*time.Minute, visit(1)).
		at(5*time.Minute, func(c *caseTest) {
			c.act("counselling-by-approver", contract.UpdateCounselling, contract.Action[contract.Counselling]{Actor: apDE,
				Body: contract.Counselling{Outcome: "confirmed", HeldAt: c.now()}})
		}).
		at(time.Hour, counselling("confirmed")).
		at(time.Hour+time.Minute, func(c *caseTest) {
			c.act("counselling-twice", contract.UpdateCounselling, contract.Action[contract.Counselling]{Actor: cwDE,
				Body: contract.Counselling{Outcome: "confirmed", HeldAt: c.now()}})
		}).
		at(2*time.Hour, withdraw("withdrawn"))
	c.run()
	require.Equal(t, contract.RefusedWrongStage, c.refusal("screening"))
	require.Contains(t, c.refusals["screening"].Error(), "not possible in stage Counselling")
	require.Equal(t, contract.RefusedForbidden, c.refusal("counselling-by-approver"))
	require.Equal(t, contract.RefusedDuplicate, c.refusal("counselling-twice"))
	require.Equal(t, contract.RefusedWrongStage, c.refusal("delivery"))
	require.Equal(t, contract.RefusedWrongStage, c.refusal("visit-1"))
	require.Empty(t, c.refusal("withdrawal"))
}

// A stage's SLA timer ends with the stage: when its event comes in time, the timer
// is cancelled, so it never fires later to wake a case that has moved on (SDK
// 1.50's AwaitWithOptions leaves it pending: workflow version 3).
func TestSLATimersEndWithTheirStage(t *testing.T) {
	c := newCase(t).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("cash", "500.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(5*time.Hour+90*day+time.Hour, visit(1)).
		at(5*time.Hour+180*day+time.Hour, visit(2)).
		at(5*time.Hour+365*day+time.Hour, visit(3))
	st := c.run()
	require.Equal(t, contract.ClosedCompleted, st.ClosureReason)
	require.Len(t, c.timers, 2, "two runs")
	for run, n := range c.timers {
		require.Positive(t, n.cancelled, "run %d: SLA timers cancelled when their event came", run+1)
		require.Zero(t, n.open(), "run %d ended with timers still pending: %+v", run+1, n)
	}
	// One timer per follow-up visit, its window's end (version 5): reported in
	// time, each is cancelled; nothing wakes the case when a visit falls due.
	require.Equal(t, timerCount{started: 3, cancelled: 3}, c.timers[1])
}

func TestAnOverdueStageNotifiesOnceAndKeepsWaiting(t *testing.T) {
	sla := testRules().SLA.Counselling
	c := newCase(t).
		at(sla-time.Minute, func(c *caseTest) {
			require.False(c.t, c.state().Overdue, "not overdue before the due date")
		}).
		at(sla+time.Minute, func(c *caseTest) {
			st := c.state()
			require.True(c.t, st.Overdue, "overdue right after the due date")
			require.Equal(c.t, contract.StageCounselling, st.Stage, "and still waiting")
			require.Equal(c.t, start.Add(sla), *st.StageDueAt)
		}).
		at(sla+10*day, counselling("confirmed")).
		at(sla+10*day+time.Minute, func(c *caseTest) {
			st := c.state()
			require.False(c.t, st.Overdue, "the overdue mark clears when the event arrives")
			require.Equal(c.t, contract.StageScreening, st.Stage)
		}).
		at(sla+11*day, withdraw("withdrawn"))
	c.run()
	require.ElementsMatch(t, []string{"supervisor", "sending_office"}, c.p.notified("overdue"), "notified once each")
}

func TestMissedVisitsAreReportedAndTheCaseStillCompletes(t *testing.T) {
	c := newCase(t).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("cash", "500.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(5*time.Hour+180*day+time.Hour, visit(2))
	st := c.run()
	require.Equal(t, contract.ClosedCompleted, st.ClosureReason)
	require.Equal(t, []contract.VisitStatus{contract.VisitMissed, contract.VisitDone, contract.VisitMissed}, []contract.VisitStatus{st.Monitoring[0].Status, st.Monitoring[1].Status, st.Monitoring[2].Status})
	require.Equal(t, []string{"manager", "manager"}, c.p.notified("missed_visit"))
}

func TestAFailingPartnerFlagsTheCaseAndItHeals(t *testing.T) {
	c := newCase(t)
	unavailable := temporal.NewApplicationError("finance: 503", "PartnerUnavailable")
	c.p.fail["Pay"] = []error{unavailable, unavailable, unavailable, unavailable, unavailable, unavailable}
	c.toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("cash", "500.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(7*time.Hour+8*time.Second, func(c *caseTest) {
			st := c.state()
			require.Equal(c.t, contract.WaitingSystem, st.WaitingOn, "flagged after the configured attempts")
		}).
		at(8*time.Hour, func(c *caseTest) {
			st := c.state()
			require.Equal(c.t, contract.StageMonitoring, st.Stage, "healed when the partner answered")
			require.Equal(c.t, contract.WaitingCaseworker, st.WaitingOn, "for the first visit, from its due date")
		}).
		at(9*time.Hour, withdraw("withdrawn"))
	c.run()
	require.Equal(t, 7, c.p.count("Pay"))
	require.Equal(t, []string{"pay/p1-1=1"}, c.p.keysWithPrefix("/pay/"))
	require.Equal(t, []string{"manager"}, c.p.notified("system_stuck"))
}

func TestAPartnerRefusalBlocksTheCaseWithItsReason(t *testing.T) {
	c := newCase(t)
	c.p.fail["ConfirmEligibility"] = []error{temporal.NewNonRetryableApplicationError("receiving office: 422 programme closed for GN", "PartnerRejected", nil)}
	c.at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(2*time.Hour+time.Minute, func(c *caseTest) {
			st := c.state()
			require.Equal(c.t, contract.WaitingSystem, st.WaitingOn)
			require.Contains(c.t, st.Blocked, "programme closed for GN")
		}).
		at(3*time.Hour, func(c *caseTest) {
			st := c.state()
			require.Empty(c.t, st.Blocked, "tried again after a pause, and it went through")
			require.Equal(c.t, contract.StageMedicalClearance, st.Stage)
		}).
		at(4*time.Hour, withdraw("withdrawn"))
	c.run()
	require.Equal(t, 2, c.p.count("ConfirmEligibility"), "a refusal is not retried at once")
	require.Equal(t, []string{"manager"}, c.p.notified("blocked"))
}

func TestACancelledWorkflowStillUndoesItsBookings(t *testing.T) {
	c := newCase(t).
		at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit_with_escort", 30*day, 0)).
		at(4*time.Hour, func(c *caseTest) { c.env.CancelWorkflow() })
	st := c.run()
	require.Equal(t, contract.StatusClosed, st.Status)
	require.Equal(t, 1, c.p.count("CancelEscort"))
	require.Equal(t, 0, c.p.count("CancelFlight"), "the flight was already ticketed")
}

func TestADepartureReportedWhileTheNoticeIsRetriedCounts(t *testing.T) {
	c := newCase(t)
	unavailable := temporal.NewApplicationError("receiving office: 503", "PartnerUnavailable")
	c.p.fail["SendPreArrivalNotice"] = []error{unavailable, unavailable}
	c.at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit", 30*day, 0)).
		at(3*time.Hour+500*time.Millisecond, departed). // ticketed; the notice is being retried
		at(4*time.Hour, arrived).
		at(4*time.Hour+time.Minute, func(c *caseTest) {
			require.Equal(c.t, contract.StageReintegrationPlanning, c.state().Stage)
		}).
		at(5*time.Hour, withdraw("withdrawn"))
	c.run()
	require.Equal(t, 3, c.p.count("SendPreArrivalNotice"))
	for label := range c.accepted {
		require.Empty(t, c.refusal(label), label)
	}
}

// withdrawnWithAFlightHeld withdraws a case while its flight is held: the medical
// clearance expires before the flight, and the reassessment is pending.
func withdrawnWithAFlightHeld(c *caseTest) {
	c.p.departIn = 3 * day
	c.at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit_with_escort", 1*day, 0)).
		at(4*time.Hour, withdraw("withdrawn"))
}

// While a withdrawal is closing the case (here its escort's release keeps failing
// and is retried), no other action is taken: a departure reported meanwhile would
// leave a withdrawn case with a departure on it.
func TestActionsAreRefusedWhileAWithdrawalClosesTheCase(t *testing.T) {
	c := newCase(t)
	unavailable := temporal.NewApplicationError("travel: 503", "PartnerUnavailable")
	c.p.fail["CancelEscort"] = []error{unavailable, unavailable, unavailable, unavailable}
	c.at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit_with_escort", 30*day, 0)).
		at(4*time.Hour, withdraw("withdrawn")).
		at(4*time.Hour+time.Second, departed)
	st := c.run()

	require.Equal(t, contract.ClosedWithdrawn, st.ClosureReason)
	require.Equal(t, contract.RefusedWrongStage, c.refusal("departure@"+start.Add(4*time.Hour+time.Second).Format(time.RFC3339)))
	require.Nil(t, st.Travel.DepartedAt)
	require.Equal(t, contract.EscortCancelled, st.Travel.EscortStatus, "the release went through in the end")
}

// A withdrawal that comes while the first run's last case-file write keeps failing
// (the database down as procurement ends) closes the case: the run does not go on
// into monitoring as if it had not come.
func TestAWithdrawalWhileTheLastWriteBeforeMonitoringFailsClosesTheCase(t *testing.T) {
	c := newCase(t).toArrival().
		at(6*time.Hour, plan("plan", cwGN, item("cash", "500.00"))).
		at(7*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(7*time.Hour+2*time.Minute, withdraw("absconded"))
	failing := 0
	c.p.writeFails = func(ch contract.Changes) bool {
		for _, e := range ch.Events {
			if e.Type == "paid" && failing < 12 { // about 7 minutes of retries
				failing++
				return true
			}
		}
		return false
	}
	st := c.run()

	require.Equal(t, 12, failing, "the write failed and was retried")
	require.Equal(t, 1, c.runs, "no monitoring run")
	require.Equal(t, contract.StatusClosed, st.Status)
	require.Equal(t, contract.ClosureReason("absconded"), st.ClosureReason)
	require.Empty(t, c.refusal("withdrawal"))
	require.Equal(t, contract.ItemPaid, st.Procurement[0].Status, "the payment made before stays paid")
	c.p.requireWrittenOncePerTask(t, st)
}

// The case publishes the actions it accepts now, and from which roles, as its
// validators decide: the workspace offers these and no others.
func TestTheCasePublishesTheActionsItAccepts(t *testing.T) {
	open := func(st contract.CaseState) map[string][]contract.Role {
		out := map[string][]contract.Role{}
		for _, a := range st.Actions {
			out[a.Name+"/"+a.Target] = a.Roles
		}
		return out
	}
	cw := []contract.Role{contract.RoleCaseworker}
	cwAp := []contract.Role{contract.RoleCaseworker, contract.RoleApprover}
	c := newCase(t).
		at(30*time.Minute, func(c *caseTest) {
			require.Equal(c.t, map[string][]contract.Role{"counselling/": cw, "withdrawal/": cw, "consent-withdrawal/": cw, "transfer/": cwAp}, open(c.state()))
			require.NotEmpty(c.t, c.state().Next)
			st := c.state()
			require.True(c.t, st.OpenTo(contract.UpdateTransfer, "", contract.RoleApprover, "DE-BER"))
			require.False(c.t, st.OpenTo(contract.UpdateTransfer, "", contract.RoleCaseworker, "GN-CKY"),
				"only the sending office transfers")
			require.True(c.t, st.OpenTo(contract.UpdateConsentWithdrawal, "", contract.RoleCaseworker, "GN-CKY"))
			limits := c.state().PlanLimits
			require.Equal(c.t, "2500.00", limits.Cap.Amount, "2 adults and a minor")
			require.Equal(c.t, "2000.00", limits.SecondApprovalAbove.Amount)
		}).
		at(time.Hour, counselling("confirmed")).
		at(90*time.Minute, func(c *caseTest) {
			require.Equal(c.t, map[string][]contract.Role{"screening/": cw, "withdrawal/": cw, "consent-withdrawal/": cw, "transfer/": cwAp}, open(c.state()))
		}).
		at(2*time.Hour, screening("high")).
		at(150*time.Minute, func(c *caseTest) {
			require.Equal(c.t, map[string][]contract.Role{"screening-clearance/": {contract.RoleApprover}, "withdrawal/": cw, "consent-withdrawal/": cw, "transfer/": cwAp},
				open(c.state()))
		}).
		at(3*time.Hour, func(c *caseTest) {
			c.act("clear", contract.UpdateClearance, contract.Action[contract.Clearance]{Actor: apDE,
				Body: contract.Clearance{Decision: contract.DecisionCleared}})
		}).
		at(210*time.Minute, func(c *caseTest) {
			require.Equal(c.t, map[string][]contract.Role{"medical-result/": cw, "withdrawal/": cw, "consent-withdrawal/": cw, "transfer/": cwAp}, open(c.state()),
				"a medical result by hand while the assessment is awaited")
		}).
		at(4*time.Hour, medical("fit", 30*day, 0)).
		at(5*time.Hour, departed).
		at(6*time.Hour, arrived).
		at(7*time.Hour, func(c *caseTest) {
			require.Equal(c.t, map[string][]contract.Role{"plan/": cw, "withdrawal/": cw, "consent-withdrawal/": cw}, open(c.state()))
		}).
		at(8*time.Hour, plan("plan", cwGN, item("cash", "400.00"), item("in_kind", "900.00"))).
		at(9*time.Hour, func(c *caseTest) {
			require.Equal(c.t, map[string][]contract.Role{"plan-decision/": {contract.RoleApprover},
				"withdrawal/": cw, "consent-withdrawal/": cw}, open(c.state()))
		}).
		at(10*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(11*time.Hour, func(c *caseTest) {
			require.Equal(c.t, map[string][]contract.Role{"delivery/p1-2": {contract.RoleCaseworker, contract.RoleProcurement},
				"withdrawal/": cw, "consent-withdrawal/": cw}, open(c.state()), "a delivery for the ordered item only")
		}).
		at(12*time.Hour, withdraw("withdrawn"))
	st := c.run()
	require.Equal(t, contract.StatusClosed, st.Status)
	require.Empty(t, c.refusal("clear"))
}

// What people write with their actions reaches the case file with the action's
// event: counselling and visit notes, a clearance's, a plan decision's and a
// withdrawal's comment.
func TestWhatPeopleWriteReachesTheCaseFile(t *testing.T) {
	texts := func(c *caseTest) map[string]string {
		out := map[string]string{}
		for _, w := range c.p.writes {
			for _, e := range w.Events {
				if e.Text != "" {
					out[e.Type] = e.Text
				}
			}
		}
		return out
	}
	c := newCase(t).
		at(time.Hour, func(c *caseTest) {
			c.act("counselling", contract.UpdateCounselling, contract.Action[contract.Counselling]{Actor: cwDE,
				Body: contract.Counselling{Outcome: "confirmed", HeldAt: c.now(), Notes: "interpreter present"}})
		}).
		at(2*time.Hour, screening("high")).
		at(3*time.Hour, func(c *caseTest) {
			c.act("clear", contract.UpdateClearance, contract.Action[contract.Clearance]{Actor: apDE,
				Body: contract.Clearance{Decision: contract.DecisionCleared, Comment: "mitigations adequate"}})
		}).
		at(4*time.Hour, medical("fit", 30*day, 0)).
		at(5*time.Hour, departed).
		at(6*time.Hour, arrived).
		at(7*time.Hour, plan("plan", cwGN, item("cash", "400.00"))).
		at(8*time.Hour, decide("approve", apGN, contract.DecisionApprove)).
		at(100*day, func(c *caseTest) {
			c.act("visit-1", contract.UpdateVisit, contract.Action[contract.Visit]{Actor: cwGN,
				Body: contract.Visit{Visit: 1, VisitedAt: c.now(), Notes: "shop open",
					Scores: contract.Scores{Economic: 0.5, Social: 0.5, Psychosocial: 0.5}}})
		}).
		at(101*day, func(c *caseTest) {
			c.act("withdrawal", contract.UpdateWithdrawal, contract.Action[contract.Withdrawal]{Actor: cwGN,
				Body: contract.Withdrawal{Reason: "absconded", Comment: "no answer since March"}})
		})
	st := c.run()
	require.Equal(t, contract.ClosedAbsconded, st.ClosureReason)
	require.Equal(t, map[string]string{"counselling": "interpreter present", "clearance": "mitigations adequate",
		"plan_decision": "reviewed", "visit": "shop open", "closed": "no answer since March"}, texts(c))
}

func withdrawConsent(label string, by contract.Actor) func(*caseTest) {
	return func(c *caseTest) {
		no := false
		c.act(label, contract.UpdateConsentWithdrawal, contract.Action[contract.ConsentWithdrawal]{Actor: by,
			Body: contract.ConsentWithdrawal{DataProcessing: &no, WithdrawnAt: c.now()}})
	}
}

// A withdrawal of consent closes the case as a withdrawal does (the held flight
// and the escort are released), with the reason recorded; only a caseworker of
// the case's offices sends it, and once.
func TestAWithdrawalOfConsentClosesTheCase(t *testing.T) {
	c := newCase(t)
	c.p.departIn = 3 * day
	c.at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit_with_escort", 1*day, 0)).
		at(4*time.Hour-time.Minute, withdrawConsent("approver", apDE)).
		at(4*time.Hour-time.Second, withdrawConsent("other office", contract.Actor{User: "cw-sn", Role: contract.RoleCaseworker, Office: "SN-DKR"})).
		at(4*time.Hour, withdrawConsent("consent", cwGN))
	st := c.run()

	require.Equal(t, contract.StatusClosed, st.Status)
	require.Equal(t, contract.ClosedWithdrawn, st.ClosureReason)
	require.NotNil(t, st.ConsentWithdrawnAt)
	require.Equal(t, start.Add(4*time.Hour), *st.ConsentWithdrawnAt)
	require.Empty(t, c.refusal("consent"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("approver"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("other office"))
	require.Equal(t, []string{"travel/1/cancel=1"}, c.p.keysWithPrefix("/travel/1/cancel"))
	var closed contract.Event
	for _, w := range c.p.writes {
		for _, e := range w.Events {
			if e.Type == "closed" {
				closed = e
			}
		}
	}
	require.Equal(t, "Case closed: withdrawn, consent withdrawn", closed.Summary)
	require.Equal(t, cwGN, closed.Actor)
}

// Consent withdrawn while a withdrawal is already closing the case: taken, and
// the case closes once, for the first withdrawal's reason.
func TestConsentWithdrawnWhileAWithdrawalClosesTheCase(t *testing.T) {
	c := newCase(t)
	unavailable := temporal.NewApplicationError("travel: 503", "PartnerUnavailable")
	c.p.fail["CancelEscort"] = []error{unavailable, unavailable, unavailable}
	c.at(time.Hour, counselling("confirmed")).at(2*time.Hour, screening("low")).
		at(3*time.Hour, medical("fit_with_escort", 30*day, 0)).
		at(4*time.Hour, withdraw("absconded")).
		at(4*time.Hour+time.Second, withdrawConsent("consent", cwDE)).
		at(4*time.Hour+2*time.Second, withdrawConsent("again", cwDE))
	st := c.run()
	require.Equal(t, contract.ClosureReason("absconded"), st.ClosureReason)
	require.Empty(t, c.refusal("consent"))
	require.Equal(t, contract.RefusedDuplicate, c.refusal("again"))
	require.NotNil(t, st.ConsentWithdrawnAt)
}

func transfer(label string, by contract.Actor, office string) func(*caseTest) {
	return func(c *caseTest) {
		c.act(label, contract.UpdateTransfer, contract.Action[contract.Transfer]{Actor: by,
			Body: contract.Transfer{ReceivingOffice: office, Reason: "the family moved to Nzérékoré"}})
	}
}

// A case moves to another receiving office before departure, by the sending
// office: both receiving offices are told, the event keeps the reason, the new
// office decides from then on; the old one no longer may, and after departure
// no transfer is taken.
func TestATransferBeforeDepartureMovesTheCase(t *testing.T) {
	apNZR := contract.Actor{User: "approver-nzr", Role: contract.RoleApprover, Office: "GN-NZR"}
	c := newCase(t).
		at(time.Hour, counselling("confirmed")).
		at(90*time.Minute, transfer("by the receiving office", cwGN, "GN-NZR")).
		at(100*time.Minute, transfer("by procurement", contract.Actor{User: "p", Role: contract.RoleProcurement, Office: "DE-BER"}, "GN-NZR")).
		at(110*time.Minute, transfer("to the sending office", apDE, "DE-BER")).
		at(2*time.Hour, transfer("transfer", apDE, "GN-NZR")).
		at(2*time.Hour+time.Minute, transfer("retried", apDE, "GN-NZR")).
		at(3*time.Hour, screening("high")).
		at(4*time.Hour, func(c *caseTest) {
			c.act("old office clears", contract.UpdateClearance, contract.Action[contract.Clearance]{Actor: apGN,
				Body: contract.Clearance{Decision: contract.DecisionCleared}})
		}).
		at(5*time.Hour, func(c *caseTest) {
			c.act("new office clears", contract.UpdateClearance, contract.Action[contract.Clearance]{Actor: apNZR,
				Body: contract.Clearance{Decision: contract.DecisionCleared}})
		}).
		at(6*time.Hour, medical("fit", 30*day, 0)).
		at(7*time.Hour, departed).
		at(8*time.Hour, transfer("after departure", cwDE, "GN-KAN")).
		at(9*time.Hour, withdraw("withdrawn"))
	st := c.run()
	require.Equal(t, contract.StatusClosed, st.Status)
	require.Empty(t, c.refusal("transfer"))
	require.Empty(t, c.refusal("retried"), "a retry of the same transfer is taken, and does nothing")
	require.Equal(t, contract.RefusedForbidden, c.refusal("by the receiving office"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("by procurement"))
	require.Equal(t, contract.RefusedInvalid, c.refusal("to the sending office"))
	require.Equal(t, contract.RefusedForbidden, c.refusal("old office clears"))
	require.Empty(t, c.refusal("new office clears"))
	require.Equal(t, contract.RefusedWrongStage, c.refusal("after departure"))

	var offices []string
	for _, n := range c.p.notes {
		if n.Kind == "transferred" {
			require.Equal(t, "receiving_office", n.To)
			offices = append(offices, n.Office)
		}
	}
	slices.Sort(offices) // the two notifications run side by side: their order is not the case's
	require.Equal(t, []string{"GN-CKY", "GN-NZR"}, offices, "both receiving offices are told, once")
	var moved []contract.Event
	for _, w := range c.p.writes {
		for _, e := range w.Events {
			if e.Type == "transferred" {
				moved = append(moved, e)
			}
		}
	}
	require.Len(t, moved, 1)
	require.Equal(t, "Transferred from receiving office GN-CKY to GN-NZR", moved[0].Summary)
	require.Equal(t, "the family moved to Nzérékoré", moved[0].Text)
}
