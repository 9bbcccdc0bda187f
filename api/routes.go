package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/homeward/homeward/contract"
)

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI is the contract this API is held to.
func OpenAPI() []byte { return openapiYAML }

// routes builds the whole surface; mount adds more beside the API (the workspace),
// behind the same request IDs, metrics, access log and recovery.
func (s *Server) routes(mount ...func(*gin.Engine)) http.Handler {
	r := gin.New()
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = true
	r.Use(requestIDs(s.logger), s.metrics.observe, s.accessLog, recovered)
	r.NoRoute(func(c *gin.Context) { respondError(c, fail(KindNotFound, "no such resource")) })
	r.NoMethod(func(c *gin.Context) { respondError(c, fail(KindNotFound, "no such method on this resource")) })

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	if s.cfg.HTTP.MetricsAddress == "" {
		r.GET("/metrics", gin.WrapH(s.metrics.handler()))
	}
	r.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", openapiYAML) })
	r.Any("/codec/*path", gin.WrapH(s.codecHandler()))

	const (
		cw  = contract.RoleCaseworker
		ap  = contract.RoleApprover
		pr  = contract.RoleProcurement
		mg  = contract.RoleManager
		svc = contract.RoleService
	)
	v1 := r.Group("/api/v1", authenticate(s.auth))
	people := allow(cw, ap, pr, mg)

	v1.POST("/cases", allow(cw), s.registerCase)
	v1.GET("/cases", people, s.listCases)
	v1.POST("/cases/search", people, s.searchCases)
	v1.GET("/cases/:id", people, s.getCase)
	v1.PATCH("/cases/:id", allow(cw), s.patchCase)
	v1.GET("/cases/:id/timeline", people, s.timeline)
	v1.GET("/cases/:id/audit", allow(mg), s.auditTrail)
	v1.POST("/cases/:id/notes", people, s.postNote)
	v1.GET("/cases/:id/notes", people, s.getNotes)
	v1.POST("/cases/:id/documents", allow(cw, pr), s.postDocument)
	v1.GET("/cases/:id/documents", people, s.listDocuments)
	v1.GET("/cases/:id/documents/:doc_id", people, s.getDocument)
	v1.PUT("/cases/:id/owner", allow(cw, ap, mg), s.putOwner)
	v1.POST("/cases/:id/consent", allow(cw), s.postConsent)
	v1.POST("/cases/:id/transfer", allow(cw, ap), s.postTransfer)

	v1.POST("/cases/:id/counselling", allow(cw), action[contract.Counselling](s, contract.UpdateCounselling))
	v1.POST("/cases/:id/screening", allow(cw), action[contract.Screening](s, contract.UpdateScreening))
	v1.POST("/cases/:id/screening/clearance", allow(ap), action[contract.Clearance](s, contract.UpdateClearance))
	v1.POST("/cases/:id/medical", allow(svc, cw), fact[contract.MedicalResult](s, contract.UpdateMedicalResult))
	v1.POST("/cases/:id/departure", allow(cw), action[contract.Departure](s, contract.UpdateDeparture))
	v1.POST("/cases/:id/arrival", allow(svc, cw), fact[contract.Arrival](s, contract.UpdateArrival))
	v1.POST("/cases/:id/plan", allow(cw), action[contract.Plan](s, contract.UpdatePlan))
	v1.POST("/cases/:id/plan/decisions", allow(ap), action[contract.PlanDecision](s, contract.UpdatePlanDecision))
	v1.POST("/cases/:id/plan/donor-decision", allow(ap), action[contract.DonorDecision](s, contract.UpdateDonorDecision))
	v1.POST("/cases/:id/procurement/:item_id/delivery", allow(pr, cw), action[contract.Delivery](s, contract.UpdateDelivery))
	v1.POST("/cases/:id/procurement/:item_id/price-decision", allow(ap), action[contract.PriceDecision](s, contract.UpdatePriceDecision))
	v1.POST("/cases/:id/procurement/:item_id/payment-validation", allow(ap),
		action[contract.PaymentValidation](s, contract.UpdatePaymentValidation))
	v1.POST("/cases/:id/monitoring", allow(cw), action[contract.Visit](s, contract.UpdateVisit))
	v1.POST("/cases/:id/withdrawal", allow(cw), action[contract.Withdrawal](s, contract.UpdateWithdrawal))

	v1.GET("/tasks", people, s.tasks)
	v1.GET("/stuck", allow(mg), s.stuck)
	v1.GET("/reports/monthly", allow(mg), s.monthlyReport)
	v1.GET("/reports/quarterly", allow(mg), s.quarterlyReport)
	v1.GET("/reports/fee-reconciliation", allow(mg), s.feeReconciliation)
	v1.GET("/budgets/:programme", allow(mg, ap), s.budget)
	for _, m := range mount {
		m(r)
	}
	return r
}
