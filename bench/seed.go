package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/homeward/homeward/contract"
	"github.com/homeward/homeward/money"
	"github.com/homeward/homeward/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The seeded population: where cases come from and go to, in what stage.
type weighted[T any] struct {
	v T
	w float64
}

func pick[T any](r *rand.Rand, xs []weighted[T]) T {
	var sum float64
	for _, x := range xs {
		sum += x.w
	}
	p := r.Float64() * sum
	for _, x := range xs {
		if p < x.w {
			return x.v
		}
		p -= x.w
	}
	return xs[len(xs)-1].v
}

type office struct{ office, country string }

var (
	sendingOffices = []weighted[office]{{office{"DE-BER", "DE"}, 30}, {office{"DE-MUC", "DE"}, 15}, {office{"AT-VIE", "AT"}, 15},
		{office{"NL-AMS", "NL"}, 15}, {office{"BE-BRU", "BE"}, 10}, {office{"GR-ATH", "GR"}, 15}}
	receivingOffices = []weighted[office]{{office{"GN-CKY", "GN"}, 25}, {office{"NG-LOS", "NG"}, 15}, {office{"IQ-BGW", "IQ"}, 15},
		{office{"AF-KBL", "AF"}, 10}, {office{"SN-DKR", "SN"}, 10}, {office{"GE-TBS", "GE"}, 10}, {office{"ML-BKO", "ML"}, 10},
		{office{"MA-RBA", "MA"}, 5}}
	activeStages = []weighted[contract.Stage]{{contract.StageCounselling, 12}, {contract.StageScreening, 6},
		{contract.StageMedicalClearance, 6}, {contract.StageTravel, 10}, {contract.StageArrival, 2},
		{contract.StageReintegrationPlanning, 12}, {contract.StagePlanApproval, 5}, {contract.StageProcurement, 12},
		{contract.StageMonitoring, 35}}
	closures = []weighted[contract.ClosureReason]{{contract.ClosedCompleted, 60}, {contract.ClosedWithdrawn, 20},
		{contract.ClosedNotFit, 5}, {contract.ClosedNoShow, 5}, {contract.ClosedIneligible, 5}, {contract.ClosedAbsconded, 5}}
	stageSLA = map[contract.Stage]time.Duration{contract.StageCounselling: 14 * 24 * time.Hour, contract.StageScreening: 7 * 24 * time.Hour,
		contract.StageMedicalClearance: 14 * 24 * time.Hour, contract.StageTravel: 21 * 24 * time.Hour, contract.StageArrival: 48 * time.Hour,
		contract.StageReintegrationPlanning: 30 * 24 * time.Hour, contract.StagePlanApproval: 7 * 24 * time.Hour,
		contract.StageProcurement: 60 * 24 * time.Hour, contract.StageMonitoring: 30 * 24 * time.Hour}
)

func waitingFor(r *rand.Rand, s contract.Stage) contract.WaitingOn {
	switch s {
	case contract.StagePlanApproval:
		return contract.WaitingApprover
	case contract.StageProcurement:
		return contract.WaitingProcurement
	case contract.StageMedicalClearance:
		return contract.WaitingMedicalProvider
	case contract.StageArrival:
		return contract.WaitingReceivingOffice
	case contract.StageMonitoring:
		if r.Float64() < 0.3 {
			return contract.WaitingCaseworker
		}
		return contract.WaitingNobody
	}
	return contract.WaitingCaseworker
}

func stageIndex(s contract.Stage) int {
	for i, x := range contract.Stages {
		if x == s {
			return i
		}
	}
	return -1
}

// stateJSON is a plausible projection of a case in that stage (what the workflow
// records), so that rows are as wide as real ones.
func stateJSON(stage contract.Stage, status contract.Status, reason contract.ClosureReason, t time.Time) string {
	at := t.UTC()
	st := contract.CaseState{Seq: 12, Stage: stage, Status: status, ClosureReason: reason, WaitingOn: contract.WaitingCaseworker,
		StageEnteredAt: at,
		Counselling:    &contract.CounsellingState{Outcome: "confirmed", HeldAt: at, By: "caseworker-de"}}
	i := stageIndex(stage)
	if stage == contract.StageClosed && reason == contract.ClosedCompleted {
		i = 99
	}
	eligible := true
	if i > stageIndex(contract.StageScreening) {
		st.Screening = &contract.ScreeningState{Risk: "medium", Flags: []string{"health_needs"},
			Mitigations: []string{"medical escort assessed"}, ScreenedBy: "caseworker-de", Eligible: &eligible, AssistanceLevel: "standard"}
		until := at.Add(14 * 24 * time.Hour)
		st.Medical = &contract.MedicalState{Requests: 1, Result: "fit", AssessedAt: &at, ValidUntil: &until, PAMAOpened: true}
	}
	if i > stageIndex(contract.StageMedicalClearance) {
		st.Travel = &contract.TravelState{Attempt: 1, BookingRef: "BK-000123", BookingStatus: contract.BookingTicketed, DepartureAt: &at,
			DepartedAt: &at, Flight: "HW5004", PreArrivalSent: true}
	}
	if i > stageIndex(contract.StageArrival) {
		st.Arrival = &contract.ArrivalState{ArrivedAt: at, ReceivedBy: "GN-CKY reception desk"}
	}
	if i > stageIndex(contract.StageReintegrationPlanning) {
		eur := func(s string) money.Money { return money.Money{Amount: s, Currency: "EUR"} }
		st.Plan = &contract.PlanState{Version: 1, Status: contract.PlanApproved, SubmittedBy: "caseworker-gn", SubmittedAt: at,
			Items: []contract.PlanItem{{ID: "p1-1", Dimension: "economic", Kind: "cash", Description: "start-up cash grant", Cost: eur("400.00")},
				{ID: "p1-2", Dimension: "economic", Kind: "in_kind", Description: "sewing machine", Cost: eur("900.00")}},
			Total:     eur("1300.00"),
			Decisions: []contract.DecisionLog{{PlanVersion: 1, Decision: contract.DecisionApprove, Comment: "within the cap", By: "approver-gn", Office: "GN-CKY", At: at}}}
	}
	if i > stageIndex(contract.StagePlanApproval) {
		st.Procurement = []contract.ProcurementItem{{ItemID: "p1-1", Kind: "cash", Status: contract.ItemPaid},
			{ItemID: "p1-2", Kind: "in_kind", Status: contract.ItemOrdered, ChosenSupplier: "supplier-2", PurchaseOrder: "PO-000456"}}
	}
	if i > stageIndex(contract.StageProcurement) {
		for v := 1; v <= 3; v++ {
			st.Monitoring = append(st.Monitoring, contract.VisitState{Visit: v, DueAt: at.Add(time.Duration(v) * 90 * 24 * time.Hour), Status: contract.VisitScheduled})
		}
	}
	b, _ := json.Marshal(st)
	return string(b)
}

const consentJSON = `{"data_processing":true,"given_at":"2026-11-20T10:00:00Z"}`

// Names of the seeded people: family names are drawn with Zipf-like weights
// (the most common carried by about 1 case in 12, the rarest by about 1 in
// 20,000), so a search by name finds many cases or few, as in a real caseload.
var (
	givenNames = []string{"Aminata", "Mariama", "Fatoumata", "Aissatou", "Kadiatou", "Hawa", "Mamadou", "Ibrahima", "Ousmane",
		"Alpha", "Amadou", "Abdoulaye", "Sekou", "Moussa", "Chinedu", "Ngozi", "Emeka", "Ahmad", "Zahra", "Ali", "Fatima",
		"Omar", "Layla", "Nino", "Giorgi", "Youssef", "Khadija", "Awa", "Binta", "Lamine"}
	familyFirst  = []string{"Ca", "Dia", "Ba", "Sou", "Kei", "Tou", "Sy", "Kan", "Dou", "Ko", "Ndi", "Tra", "Sa", "Ha", "Ma", "Oke", "Ade", "Naz", "Kar", "Bel"}
	familySecond = []string{"mara", "llo", "h", "mah", "ta", "re", "lla", "te", "mbouya", "né", "aye", "oré", "idu", "ssan", "iri", "ye", "koro", "ba", "wa", "ni"}
	familyNames  []weighted[string]
)

func init() {
	rank := 1
	for _, a := range familyFirst {
		for _, b := range familySecond {
			familyNames = append(familyNames, weighted[string]{a + b, 1 / float64(rank)})
			rank++
		}
	}
}

var caseColumns = []string{"id", "seq", "reference", "status", "stage", "waiting_on", "stage_entered_at", "stage_due_at",
	"overdue", "closure_reason", "blocked", "host_country", "country_of_return", "area_region", "area_district",
	"sending_office", "receiving_office", "programme", "vulnerable", "beneficiary", "household", "vulnerabilities",
	"consent", "state", "state_seq", "committed_cents", "service_charge_cents", "currency", "created_by", "workflow_id",
	"run_id", "created_at", "updated_at", "plan_approved_at", "departed_at", "closed_at", "beneficiary_key"}

var paymentColumns = []string{"payment_id", "case_id", "item_id", "amount_cents", "currency", "payee", "paid_at", "country_of_return"}

var termColumns = []string{"case_id", "kind", "hash", "case_seq"}

// seedStats says what was seeded.
type seedStats struct {
	cases, payments, terms, active, overdue, system int
	took                                            time.Duration
	reportMonth                                     string
}

func (s *seedStats) add(o seedStats) {
	s.cases += o.cases
	s.payments += o.payments
	s.terms += o.terms
	s.active += o.active
	s.overdue += o.overdue
	s.system += o.system
	s.took += o.took
	s.reportMonth = o.reportMonth
}

// sealer seals the personal columns as the store does (codec.Sealer).
type sealer interface {
	Seal(column, plain string) (string, error)
	Hash(parts ...string) string
}

// casesPerDay is the seeded programme's pace: 130,000 returns a year.
const casesPerDay = 130_000.0 / 365

// seed inserts cases from to to (exclusive) of a population of total, straight
// into the database (no workflow runs for them), with the payments of their
// approved plans and their search terms (the store's blind indexes): case 0 is
// the newest, numbered total, registered now; case i, i/casesPerDay days before.
// Seeding 0..n and then n..total grows the newest n cases into the whole
// population with older ones: the same open caseload, more history. Each case
// is drawn from its own random source, so a case is the same whatever was
// seeded before. Postgres is loaded with COPY, SQLite with multi-row INSERTs.
func seed(ctx context.Context, db *sql.DB, driver string, st *store.Store, from, to, total int, now time.Time, sl sealer) (seedStats, error) {
	start := time.Now()
	var s seedStats
	stateCache := map[string]string{}
	state := func(stage contract.Stage, status contract.Status, reason contract.ClosureReason) string {
		k := string(stage) + "/" + string(reason)
		if v, ok := stateCache[k]; ok {
			return v
		}
		v := stateJSON(stage, status, reason, now)
		stateCache[k] = v
		return v
	}
	const batch = 2000
	var rows, pays, terms [][]any
	flush := func() error {
		for _, t := range []struct {
			name string
			cols []string
			rows [][]any
		}{{"cases", caseColumns, rows}, {"payments", paymentColumns, pays}, {"case_search_terms", termColumns, terms}} {
			if err := load(ctx, db, driver, t.name, t.cols, t.rows); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
		s.payments += len(pays)
		s.terms += len(terms)
		rows, pays, terms = rows[:0], pays[:0], terms[:0]
		return nil
	}
	day := 24 * time.Hour
	for i := from; i < to; i++ {
		r := rand.New(rand.NewPCG(uint64(i), 10))
		seq := int64(total - i)
		id := uuid.NewSHA1(uuid.NameSpaceOID, []byte("homeward-bench-"+strconv.Itoa(i))).String()
		created := now.Add(-time.Duration(float64(i) / casesPerDay * float64(day))).Add(-time.Duration(r.IntN(3600)) * time.Second)
		age := now.Sub(created)
		so, ro := pick(r, sendingOffices), pick(r, receivingOffices)
		programme, currency, charge := "REAG-GARP", "EUR", int64(15000)
		if r.Float64() < 0.3 {
			programme, charge = "EU-IOM-JI", 12000
		}
		// A case stays open 12 to 16 months at most.
		closedP := 0.15
		if age > 480*day {
			closedP = 1
		} else if age > 200*day {
			closedP = 0.5
		}
		var (
			status  = contract.StatusActive
			stage   contract.Stage
			reason  contract.ClosureReason
			waiting contract.WaitingOn
			blocked string
			due     *time.Time
			overdue bool
			closed  *time.Time
		)
		if r.Float64() < closedP {
			status, stage, reason = contract.StatusClosed, contract.StageClosed, pick(r, closures)
			c := created.Add(time.Duration(30+r.IntN(450)) * day)
			if c.After(now) {
				c = now.Add(-time.Hour)
			}
			closed = &c
		} else {
			stage = pick(r, activeStages)
			waiting = waitingFor(r, stage)
		}
		entered := created.Add(time.Duration(r.Float64() * float64(age)))
		if status == contract.StatusClosed {
			entered = *closed
		}
		if status == contract.StatusActive {
			s.active++
			switch x := r.Float64(); {
			case x < 0.003:
				waiting, blocked = contract.WaitingSystem, "Confirm eligibility with the receiving office: refused (422)"
				s.system++
			case x < 0.013:
				waiting = contract.WaitingSystem
				s.system++
			}
			if waiting != contract.WaitingNobody {
				sla := stageSLA[stage]
				d := entered.Add(sla)
				if r.Float64() < 0.06 {
					d = now.Add(-time.Duration(1+r.IntN(30)) * day)
					entered = d.Add(-sla)
					overdue = true
					s.overdue++
				} else if d.Before(now) {
					d = now.Add(time.Duration(1+r.IntN(int(sla/day)+1)) * day)
					entered = d.Add(-sla)
				}
				due = &d
			}
		}
		si := stageIndex(stage)
		completed := reason == contract.ClosedCompleted
		var departed, approved *time.Time
		if si > stageIndex(contract.StageTravel) && status == contract.StatusActive || completed {
			d := created.Add(time.Duration(20+r.IntN(40)) * day)
			departed = &d
		}
		committed := int64(0)
		if si > stageIndex(contract.StagePlanApproval) && status == contract.StatusActive || completed {
			a := departed.Add(time.Duration(10+r.IntN(30)) * day)
			approved = &a
			committed = int64(80_000 + r.IntN(3200)*100)
			for item := 1; item <= 2; item++ {
				paid := a.Add(time.Duration(1+r.IntN(20)) * day)
				if paid.After(now) {
					continue
				}
				pays = append(pays, []any{uuid.NewSHA1(uuid.NameSpaceOID, []byte(id+"/"+strconv.Itoa(item))).String(), id,
					fmt.Sprintf("p1-%d", item), committed / 2, currency, "supplier-" + strconv.Itoa(1+r.IntN(9)), paid.UTC(), ro.country})
			}
		}
		vulnerable := r.Float64() < 0.3
		vulns := "[]"
		if vulnerable {
			vulns = `["health_needs"]`
		}
		given, family := givenNames[r.IntN(len(givenNames))], pick(r, familyNames)
		beneficiary := fmt.Sprintf(`{"given_name":%q,"family_name":%q,"date_of_birth":"1990-04-01","sex":"female","nationality":%q,`+
			`"languages":["fr"],"phone":"+2246%08d","travel_document":{"number":"P%08d","expiry":"2031-01-31"}}`, given, family, ro.country, i, i)
		household := fmt.Sprintf(`[{"given_name":%q,"family_name":%q,"relationship":"child","date_of_birth":"2016-02-11"}]`,
			givenNames[r.IntN(len(givenNames))], family)
		var sealed [4]string
		var err error
		for j, col := range []struct{ name, v string }{{"beneficiary", beneficiary}, {"household", household},
			{"vulnerabilities", vulns}, {"state", state(stage, status, reason)}} {
			if sealed[j], err = sl.Seal(col.name, col.v); err != nil {
				return s, err
			}
		}
		rows = append(rows, []any{id, seq, fmt.Sprintf("HW-%d-%07d", created.Year(), seq), string(status), string(stage),
			string(waiting), entered.UTC(), nullTime(due), overdue, string(reason), blocked, so.country, ro.country, "Region", "District",
			so.office, ro.office, programme, vulnerable, sealed[0], sealed[1], sealed[2], consentJSON,
			sealed[3], int64(12), committed, charge, currency, "caseworker-de", "case-" + id,
			uuid.NewSHA1(uuid.NameSpaceOID, []byte(id+"/run")).String(), created.UTC(), entered.UTC(), nullTime(approved), nullTime(departed), nullTime(closed),
			sl.Hash("bench", strconv.Itoa(i))})
		for _, t := range st.SearchTerms(id, seq, beneficiary, household) {
			terms = append(terms, []any{t.CaseID, t.Kind, t.Hash, t.CaseSeq})
		}
		s.cases++
		if len(rows) == batch {
			if err := flush(); err != nil {
				return s, err
			}
		}
	}
	if err := flush(); err != nil {
		return s, err
	}
	if from == 0 {
		if _, err := db.ExecContext(ctx, store.Rebind(driver, `INSERT INTO counters (name, value) VALUES ('case', ?)`), total); err != nil {
			return s, err
		}
	}
	if driver == "postgres" {
		// What autovacuum would have done by the time a table has grown this big:
		// the statistics, and the visibility map that lets a search read its terms
		// from their index alone (migration 00029 has the terms vacuumed every 1%).
		if _, err := db.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
			return s, err
		}
	}
	s.took = time.Since(start)
	s.reportMonth = now.AddDate(0, -6, 0).Format("2006-01")
	return s, nil
}

// load writes rows into a table: COPY on Postgres, multi-row INSERTs of at most
// 400 rows (SQLite's limit on parameters) otherwise. Each call commits.
func load(ctx context.Context, db *sql.DB, driver, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if driver == "postgres" {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("not a pgx connection: %T", dc)
			}
			_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
			return err
		})
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	per := min(400, 30000/len(cols))
	for len(rows) > 0 {
		n := min(per, len(rows))
		if err := insertRows(ctx, tx, driver, table, cols, rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return tx.Commit()
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func insertRows(ctx context.Context, tx *sql.Tx, driver, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
	args := make([]any, 0, len(rows)*len(cols))
	for i, row := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
		args = append(args, row...)
	}
	_, err := tx.ExecContext(ctx, store.Rebind(driver, b.String()), args...)
	return err
}
