package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/store"
	"github.com/homeward/homeward/workflows"
)

// Registrations are the registered cases and the start of their workflows, in
// the case file.
type Registrations interface {
	// IdentityKey is the keyed hash that finds a person's active case.
	IdentityKey(parts ...string) string
	CaseByIdempotencyKey(ctx context.Context, key string) (*store.Case, error)
	CreateCase(ctx context.Context, c *store.Case, audit []store.AuditEntry, start func(context.Context, *store.Case) (string, error)) error
	StartCase(ctx context.Context, c *store.Case, start func(context.Context, *store.Case) (string, error)) error
	CasesToStart(ctx context.Context, before time.Time, limit int) ([]store.Case, error)
}

// CaseReads read a case, its timeline and the lists of cases.
type CaseReads interface {
	CaseByID(ctx context.Context, id string) (*store.Case, error)
	DecidedBy(ctx context.Context, caseID, user string) (bool, error)
	Timeline(ctx context.Context, caseID string) ([]store.TimelineEvent, error)
	ListCases(ctx context.Context, f store.Filter) (store.Page, error)
}

// AuditLog is the audit trail: every read and change of a case's personal data.
type AuditLog interface {
	Audit(ctx context.Context, entries ...store.AuditEntry) error
	AuditTrail(ctx context.Context, caseID string) ([]store.AuditEntry, error)
}

// registerCase stores a new case and starts its workflow (Register).
func (s *Server) registerCase(c *gin.Context) {
	var reg Registration
	if err := decode(c, s.cfg.HTTP.BodyLimitBytes, &reg); err != nil {
		respondError(c, err)
		return
	}
	// The request's context, not c: gin reuses c once the handler returns, while
	// database/sql may still look at the context of a transaction's statement.
	cs, created, err := s.Register(c.Request.Context(), reg, c.GetHeader("Idempotency-Key"))
	if err != nil {
		respondError(c, err)
		return
	}
	status := http.StatusOK // a repeated Idempotency-Key: the case it created
	if created {
		status = http.StatusCreated
		c.Header("Location", "/api/v1/cases/"+cs.ID)
	}
	s.respondCase(c, status, cs, nil)
}

// Register validates a registration, stores the case and starts its workflow
// (store.CreateCase): the case is registered once its row commits, with its
// audit entry, and its workflow starts then or, if Temporal does not answer,
// from the sweeper (StartPending) or the next action on it. With an idempotency
// key, a repeat returns the case the first created (created false).
func (s *Server) Register(ctx context.Context, reg Registration, clientKey string) (_ *store.Case, created bool, _ error) {
	p := principal(ctx)
	if err := permit(p, "register cases", contract.RoleCaseworker); err != nil {
		return nil, false, err
	}
	now := s.now()
	if errs := reg.Validate(now, func(name string) bool { _, ok := s.cfg.Rules.Programme(name); return ok }); len(errs) > 0 {
		return nil, false, &Error{Kind: KindInvalid, Detail: "the registration is not valid", Fields: errs}
	}
	if p.Office != "*" && p.Office != reg.SendingOffice { // the sending office registers; the receiving office only sees
		return nil, false, fail(KindForbidden, "a caseworker registers cases of their own office")
	}
	var key *string
	fp := fingerprint(reg)
	if k := clientKey; k != "" {
		if len(k) > 255 {
			return nil, false, fail(KindInvalid, "Idempotency-Key is at most 255 characters")
		}
		scoped := idempotencyKey(p, "register", "", k) // a hash of who and what: "a" + "b:c" is not "a:b" + "c"
		key = &scoped
		if existing, err := s.registrations.CaseByIdempotencyKey(ctx, scoped); err == nil {
			return s.replayRegistration(ctx, existing, fp)
		}
	}
	rules, err := rulesFor(s.cfg.Rules, reg.Programme)
	if err != nil {
		return nil, false, err
	}
	id := uuid.NewString()
	cs := &store.Case{ID: id, IdempotencyKey: key, Status: string(contract.StatusActive), Stage: string(contract.StageIntake),
		WaitingOn: string(contract.WaitingCaseworker), StageEnteredAt: now, HostCountry: reg.HostCountry,
		CountryOfReturn: reg.CountryOfReturn, AreaRegion: reg.AreaOfReturn.Region, AreaDistrict: reg.AreaOfReturn.District,
		SendingOffice: reg.SendingOffice, ReceivingOffice: reg.ReceivingOffice, Programme: reg.Programme,
		Vulnerable: reg.vulnerable(), Sex: reg.Beneficiary.Sex, AgeBand: store.AgeBandAt(reg.Beneficiary.DateOfBirth, now),
		Beneficiary: mustJSON(reg.Beneficiary), Household: mustJSON(orEmpty(reg.Household)),
		Vulnerabilities: mustJSON(orEmpty(reg.Vulnerabilities)), Consent: mustJSON(reg.Consent), State: "{}",
		BeneficiaryKey: s.registrations.IdentityKey(strings.ToLower(strings.TrimSpace(reg.Beneficiary.FamilyName)),
			strings.ToLower(strings.TrimSpace(reg.Beneficiary.GivenName)), reg.Beneficiary.DateOfBirth, reg.Beneficiary.Nationality),
		Currency: rules.Programme.Currency, ServiceChargeCents: int64(rules.Programme.ServiceCharge), StartRules: mustJSON(rules), CreatedBy: p.User, WorkflowID: contract.WorkflowID(id), CreatedAt: now, UpdatedAt: now}
	audit := []store.AuditEntry{s.auditEntry(ctx, "", "registration", "create")}
	err = s.registrations.CreateCase(ctx, cs, audit, s.startWorkflow)
	switch {
	case errors.Is(err, store.ErrStartPending):
		s.logger.Warn("a case was registered; its workflow did not start yet and is started again shortly",
			"case_id", cs.ID, "error", err.Error())
	case (errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrActiveCaseExists)) && key != nil:
		// A concurrent retry with the same key won the race: its case.
		if existing, e := s.registrations.CaseByIdempotencyKey(ctx, *key); e == nil {
			return s.replayRegistration(ctx, existing, fp)
		}
		if errors.Is(err, store.ErrActiveCaseExists) {
			return nil, false, s.duplicate(ctx, cs.BeneficiaryKey)
		}
		return nil, false, err
	case errors.Is(err, store.ErrActiveCaseExists):
		return nil, false, s.duplicate(ctx, cs.BeneficiaryKey)
	case err != nil:
		return nil, false, err
	}
	if key != nil {
		if err := s.remembered.RememberResponse(ctx, store.IdempotentRequest{Key: registrationKey(*key), Fingerprint: fp,
			Status: http.StatusCreated, CaseID: cs.ID, Kind: "registration", Body: cs.ID, CreatedAt: now}); err != nil {
			loggerFrom(ctx).Warn("registration fingerprint not stored", "error", err.Error())
		}
	}
	return cs, true, nil
}

// startWorkflow starts a registered case's workflow, or finds it started: the
// workflow ID is the case's and the conflict policy USE_EXISTING, so the
// registration, a retry, an action and the sweeper may all call it, and a case
// gets one workflow whoever calls first. A workflow that already closed (the
// reuse policy refuses a second) answers with its run ID too.
func (s *Server) startWorkflow(ctx context.Context, cs *store.Case) (string, error) {
	in, err := s.startInput(cs)
	if err != nil {
		return "", err
	}
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: cs.WorkflowID, TaskQueue: s.cfg.Temporal.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: workflows.StartSearchAttributes(cs.CountryOfReturn, cs.SendingOffice,
			cs.ReceivingOffice, cs.Programme, cs.Vulnerable, cs.CreatedAt),
		StaticSummary: fmt.Sprintf("%s · %s → %s", cs.Reference, cs.HostCountry, cs.CountryOfReturn),
	}, contract.WorkflowType, in)
	var closed *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &closed) && closed.RunId != "" {
		return closed.RunId, nil
	}
	if err != nil {
		return "", err
	}
	return run.GetRunID(), nil
}

// ensureStarted makes sure a case's workflow runs before a change is sent to it:
// a case whose start is pending is started now (startWorkflow), or the change
// is refused for now (503) and changes nothing.
func (s *Server) ensureStarted(ctx context.Context, cs *store.Case) error {
	if !cs.Unstarted() {
		return nil
	}
	if err := s.registrations.StartCase(ctx, cs, s.startWorkflow); err != nil {
		s.logger.Warn("a registered case's workflow could not be started", "case_id", cs.ID, "error", err.Error())
		return fail(KindUnavailable, "the case's process is starting; retry shortly")
	}
	return nil
}

// startInput is a case's workflow input, from its row: the same whoever starts it.
func (s *Server) startInput(cs *store.Case) (contract.CaseInput, error) {
	var rules contract.Rules
	if cs.StartRules == "" { // registered before the rules were kept with the case
		r, err := rulesFor(s.cfg.Rules, cs.Programme)
		if err != nil {
			return contract.CaseInput{}, err
		}
		rules = r
	} else if err := json.Unmarshal([]byte(cs.StartRules), &rules); err != nil {
		return contract.CaseInput{}, fmt.Errorf("case %s: reading its rules: %w", cs.ID, err)
	}
	var reg Registration
	if err := errors.Join(json.Unmarshal([]byte(cs.Beneficiary), &reg.Beneficiary),
		json.Unmarshal([]byte(cs.Household), &reg.Household),
		json.Unmarshal([]byte(cs.Vulnerabilities), &reg.Vulnerabilities)); err != nil {
		return contract.CaseInput{}, fmt.Errorf("case %s: reading its registration: %w", cs.ID, err)
	}
	adults, minors := reg.household(cs.CreatedAt)
	return contract.CaseInput{CaseID: cs.ID, Reference: cs.Reference, HostCountry: cs.HostCountry,
		CountryOfReturn: cs.CountryOfReturn, SendingOffice: cs.SendingOffice, ReceivingOffice: cs.ReceivingOffice,
		Vulnerable: cs.Vulnerable, HealthNeeds: slices.Contains(reg.Vulnerabilities, "health_needs"), Adults: adults,
		Minors: minors, Rules: rules, RegisteredAt: cs.CreatedAt,
		RegisteredBy: contract.Actor{User: cs.CreatedBy, Role: contract.RoleCaseworker, Office: cs.SendingOffice}}, nil
}

// StartPending starts the workflows of registered cases whose start did not
// happen (Temporal did not answer, or the process stopped after the commit),
// registered more than startGrace ago, and says how many it started. Two API
// processes may both run it: a start finds the workflow the other made.
func (s *Server) StartPending(ctx context.Context) (int, error) {
	pending, err := s.registrations.CasesToStart(ctx, s.now().Add(-startGrace), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for i := range pending {
		// One case that cannot start (its rules unreadable, a key gone) does not
		// hold up the others: each is tried at each sweep.
		if err := s.registrations.StartCase(ctx, &pending[i], s.startWorkflow); err != nil {
			errs = append(errs, fmt.Errorf("case %s: %w", pending[i].ID, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// startGrace leaves a registration under way its own start before the sweeper
// makes it (either would do; this saves the second call).
const startGrace = 5 * time.Second

// SweepEvery is how often each API process looks for cases to start.
const SweepEvery = 10 * time.Second

// RunSweeper runs StartPending every interval until ctx ends.
func (s *Server) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.StartPending(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("starting the workflows of registered cases failed; tried again shortly", "started", n, "error", err.Error())
		} else if n > 0 {
			s.logger.Info("started the workflows of registered cases", "started", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func registrationKey(scoped string) string { return "register:" + scoped }

// replayRegistration answers a repeated registration: the case it created, or
// 409 if the same key now comes with another body.
func (s *Server) replayRegistration(ctx context.Context, existing *store.Case, fp string) (*store.Case, bool, error) {
	first, err := s.remembered.RememberedResponse(ctx, registrationKey(*existing.IdempotencyKey))
	if err == nil && first.Fingerprint != fp {
		return nil, false, fail(KindConflict, "this Idempotency-Key was used for a different registration")
	}
	// The case as its registrant may see it now (a transfer may have moved it).
	cs, err := s.FindCase(ctx, existing.ID)
	return cs, false, err
}

func (s *Server) respondCase(c *gin.Context, status int, cs *store.Case, live *contract.CaseState) {
	st := live
	if st == nil {
		projected, err := cs.LiveState()
		if err != nil {
			respondError(c, err)
			return
		}
		st = &projected
	}
	v := s.view(cs, *st)
	if err := s.withCaseFile(c.Request.Context(), &v); err != nil {
		respondError(c, err)
		return
	}
	c.JSON(status, v)
}

// caseFor loads the case in the path, if the caller may see it (else 404).
func (s *Server) caseFor(c *gin.Context) (*store.Case, error) { return s.FindCase(c, c.Param("id")) }

// loadCase loads a case whoever asks (the callers decide who may see it).
func (s *Server) loadCase(ctx context.Context, id string) (*store.Case, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fail(KindNotFound, "no such case")
	}
	return s.cases.CaseByID(ctx, id)
}

// FindCase loads a case if the caller may see it; else, or if there is none, it is
// not found. Every read and action on a case starts here.
func (s *Server) FindCase(ctx context.Context, id string) (*store.Case, error) {
	cs, err := s.loadCase(ctx, id)
	if err != nil {
		return nil, err
	}
	p := principal(ctx)
	visible := canSee(p, cs.SendingOffice, cs.ReceivingOffice)
	if visible && p.Role == contract.RoleApprover && cs.WaitingOn != string(contract.WaitingApprover) {
		// Approvers see the cases waiting on them and those they decided.
		if visible, err = s.cases.DecidedBy(ctx, cs.ID, p.User); err != nil {
			return nil, err
		}
	}
	if !visible {
		return nil, fail(KindNotFound, "no such case")
	}
	return cs, nil
}

// audit records that the caller read or changed a part of a case's personal data.
func (s *Server) audit(ctx context.Context, caseID, part, action string) error {
	return s.auditLog.Audit(ctx, s.auditEntry(ctx, caseID, part, action))
}

func (s *Server) auditEntry(ctx context.Context, caseID, part, action string) store.AuditEntry {
	p := principal(ctx)
	return store.AuditEntry{At: s.now(), ActorUser: p.User, ActorRole: string(p.Role), CaseID: caseID, Part: part,
		Action: action, RequestID: requestID(ctx)}
}

// auditTrail lists who read or changed a case's personal data (managers).
func (s *Server) auditTrail(c *gin.Context) {
	cs, err := s.caseFor(c)
	if err != nil {
		respondError(c, err)
		return
	}
	trail, err := s.auditLog.AuditTrail(c, cs.ID)
	if err != nil {
		respondError(c, err)
		return
	}
	items := make([]gin.H, 0, len(trail))
	for _, e := range trail {
		items = append(items, gin.H{"at": e.At.UTC(), "actor": gin.H{"user": e.ActorUser, "role": e.ActorRole},
			"part": e.Part, "action": e.Action, "request_id": e.RequestID, "detail": e.Detail})
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// getCase returns the case file with its state.
func (s *Server) getCase(c *gin.Context) {
	v, err := s.ReadCase(c, c.Param("id"))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// ReadCase is the case file with the state the workflow last wrote to it, audited
// as a read of personal data. It asks Temporal nothing: the workflow writes the case
// file before each of its tasks completes, so an action's answer is already there.
func (s *Server) ReadCase(ctx context.Context, id string) (CaseView, error) {
	if err := permit(principal(ctx), "read cases", caseRoles...); err != nil {
		return CaseView{}, err
	}
	cs, err := s.FindCase(ctx, id)
	if err != nil {
		return CaseView{}, err
	}
	return s.readCase(ctx, cs)
}

// readCase is the view of a case the caller may see, audited as a read.
func (s *Server) readCase(ctx context.Context, cs *store.Case) (CaseView, error) {
	if err := s.audit(ctx, cs.ID, "case_file", "read"); err != nil {
		return CaseView{}, err // no read of personal data without its audit entry
	}
	return s.caseView(ctx, cs)
}

// TimelineEntry is one line of a case's timeline.
type TimelineEntry struct {
	Type    string        `json:"type"`
	Actor   TimelineActor `json:"actor"`
	At      time.Time     `json:"at"`
	Summary string        `json:"summary"`
	// Text is what the person wrote with the action (notes, a comment, a reason).
	Text string `json:"text,omitempty"`
}

// TimelineActor is who did it.
type TimelineActor struct {
	User string `json:"user"`
	Role string `json:"role"`
}

func (s *Server) timeline(c *gin.Context) {
	items, err := s.Timeline(c, c.Param("id"))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// Timeline is what happened to a case, oldest first, audited as a read.
func (s *Server) Timeline(ctx context.Context, id string) ([]TimelineEntry, error) {
	if err := permit(principal(ctx), "read cases", caseRoles...); err != nil {
		return nil, err
	}
	cs, err := s.FindCase(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, cs.ID, "timeline", "read"); err != nil {
		return nil, err
	}
	evs, err := s.cases.Timeline(ctx, cs.ID)
	if err != nil {
		return nil, err
	}
	items := make([]TimelineEntry, 0, len(evs))
	for _, e := range evs {
		items = append(items, TimelineEntry{Type: e.Type, Actor: TimelineActor{User: e.ActorUser, Role: e.ActorRole},
			At: e.At.UTC(), Summary: e.Summary, Text: e.Text})
	}
	return items, nil
}

func (s *Server) listCases(c *gin.Context) {
	items, next, err := s.ListCases(c, c.Request.URL.Query())
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}

// ListCases is the list with the filters of GET /cases (newest first, one page),
// scoped to what the caller may see, and the cursor of the next page.
func (s *Server) ListCases(ctx context.Context, q url.Values) ([]Summary, string, error) {
	if err := permit(principal(ctx), "list cases", caseRoles...); err != nil {
		return nil, "", err
	}
	f, err := s.filter(ctx, q)
	if err != nil {
		return nil, "", err
	}
	page, err := s.cases.ListCases(ctx, f)
	if err == store.ErrBadCursor {
		return nil, "", &Error{Kind: KindInvalid, Detail: "cursor is not one this API gave out",
			Fields: []contract.FieldError{{Field: "cursor", Message: "unknown cursor"}}}
	}
	if err != nil {
		return nil, "", err
	}
	items := summaries(page.Cases)
	if err := s.withOwners(ctx, items); err != nil {
		return nil, "", err
	}
	return items, page.NextCursor, nil
}

var knownQuery = map[string]bool{"stage": true, "status": true, "country_of_return": true, "office": true,
	"vulnerable": true, "overdue": true, "waiting_on": true, "limit": true, "cursor": true, "owner": true}

// filter reads the list's query parameters.
func (s *Server) filter(ctx context.Context, q url.Values) (store.Filter, error) {
	var errs []contract.FieldError
	bad := func(field, msg string) { errs = append(errs, contract.FieldError{Field: field, Message: msg}) }
	for k := range q {
		if !knownQuery[k] {
			bad(k, "is not a filter of this list")
		}
	}
	f := store.Filter{Stage: q.Get("stage"), Status: q.Get("status"), CountryOfReturn: q.Get("country_of_return"),
		Office: q.Get("office"), WaitingOn: q.Get("waiting_on"), Cursor: q.Get("cursor"), Limit: 50,
		Offices: officeScope(principal(ctx))}
	if p := principal(ctx); p.Role == contract.RoleApprover {
		f.Approver = p.User
	}
	if err := ownerFilter(principal(ctx), q.Get("owner"), &f); err != nil {
		bad("owner", "must be me, none or a user name")
	}
	if f.Stage != "" && !slices.Contains(stageNames(), f.Stage) {
		bad("stage", "must be a stage name such as PlanApproval")
	}
	if f.Status != "" && f.Status != "active" && f.Status != "closed" {
		bad("status", "must be active or closed")
	}
	if f.CountryOfReturn != "" && !iso3166[f.CountryOfReturn] {
		bad("country_of_return", "must be an ISO 3166-1 alpha-2 code")
	}
	if f.WaitingOn != "" && !slices.Contains([]string{"caseworker", "approver", "procurement", "medical_provider",
		"receiving_office", "system"}, f.WaitingOn) {
		bad("waiting_on", "must be who a case waits on, such as approver")
	}
	for _, b := range []struct {
		name string
		dst  **bool
	}{{"vulnerable", &f.Vulnerable}, {"overdue", &f.Overdue}} {
		if v := q.Get(b.name); v != "" {
			parsed, err := strconv.ParseBool(v)
			if err != nil {
				bad(b.name, "must be true or false")
				continue
			}
			*b.dst = &parsed
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			bad("limit", "must be 1 to 200")
		}
		f.Limit = n
	}
	if len(errs) > 0 {
		return f, &Error{Kind: KindInvalid, Detail: "the filters are not valid", Fields: errs}
	}
	return f, nil
}

func stageNames() []string {
	var out []string
	for _, st := range contract.Stages {
		out = append(out, string(st))
	}
	return out
}

// rulesFor is the rule set a new case of the programme starts with and keeps.
func rulesFor(r config.Rules, programme string) (contract.Rules, error) {
	p, ok := r.Programme(programme)
	if !ok {
		return contract.Rules{}, fail(KindInvalid, "unknown programme")
	}
	amount := func(s string) money.Cents { c, _ := money.Parse(s); return c } // validated at start
	optional := func(s string) *money.Cents {                                 // "": no such rule
		if s == "" {
			return nil
		}
		c := amount(s)
		return &c
	}
	return contract.Rules{
		SLA: contract.SLA(r.SLA), MaxRebookings: r.MaxRebookings, SystemStuckAfterAttempts: r.SystemStuckAfterAttempts,
		MonitoringOffsets: r.MonitoringOffsets,
		Programme: contract.Programme{Name: p.Name, Currency: p.Currency, PerAdult: amount(p.PerAdult),
			PerMinor: amount(p.PerMinor), FamilyCap: amount(p.FamilyCap), SecondApprovalAbove: amount(p.SecondApprovalAbove),
			QuotesThreshold: amount(p.QuotesThreshold), QuotesAbove: p.QuotesAbove, QuotesBelow: p.QuotesBelow,
			ServiceCharge: amount(p.ServiceCharge), AgreedFees: agreedFees(p.AgreedFees),
			DonorApproval: contract.DonorApproval{AboveCap: p.DonorApproval.AboveCap, Above: optional(p.DonorApproval.Above),
				Kinds: slices.Clone(p.DonorApproval.Kinds)},
			PaymentValidationAbove: optional(p.PaymentValidationAbove)},
	}, nil
}

// agreedFees are a programme's agreed rates in minor units (validated at start).
func agreedFees(fees map[string]string) map[string]money.Cents {
	if len(fees) == 0 {
		return nil
	}
	out := make(map[string]money.Cents, len(fees))
	for kind, a := range fees {
		out[kind], _ = money.Parse(a)
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return string(b)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
