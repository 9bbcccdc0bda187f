package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A delivery sent twice with one Idempotency-Key (a retry after a lost answer)
// gets the first answer again, not 409; and the key belongs to the item: the
// same key on another item's delivery records that delivery, it is not taken
// for a repeat of the first.
func TestDeliveryWithAnIdempotencyKeyAnswersTheSameTwice(t *testing.T) {
	h := start(t, testConfig(t, "sqlite"))
	id := h.register()
	h.planApproved(id, cost("in_kind", "300.00"), cost("in_kind", "500.00"))
	c := h.waitCase(id, "orders for both items", func(c map[string]any) bool {
		n := 0
		for _, p := range list(c["procurement"]) {
			if p["status"] == "ordered" {
				n++
			}
		}
		return n == 2
	})
	items := list(c["procurement"])
	deliver := func(item string) response {
		return h.call("POST", fmt.Sprintf("/api/v1/cases/%s/procurement/%s/delivery", id, item), "dev-procurement",
			map[string]any{"delivered_at": "2026-01-02T10:00:00Z", "handover_certificate": "HC-1"}, "Idempotency-Key", "deliver-1")
	}
	first := deliver(items[0]["id"].(string))
	require.Equal(t, http.StatusOK, first.Status, string(first.Body))
	again := deliver(items[0]["id"].(string))
	require.Equal(t, http.StatusOK, again.Status, string(again.Body))
	// The repeat answers the case as it is now (re-read through the audited path), so
	// its item may have been paid meanwhile: the same case, the same one delivery.
	deliveryOf := func(r response) any {
		c := r.JSON(t)
		require.Equal(t, id, c["id"])
		for _, p := range list(c["procurement"]) {
			if p["id"] == items[0]["id"] {
				return p["delivery"]
			}
		}
		return nil
	}
	require.NotNil(t, deliveryOf(first))
	require.Equal(t, deliveryOf(first), deliveryOf(again), "the repeat records no second delivery")

	other := deliver(items[1]["id"].(string))
	require.Equal(t, http.StatusOK, other.Status, string(other.Body))
	h.waitCase(id, "both items delivered", func(c map[string]any) bool {
		for _, p := range list(c["procurement"]) {
			if p["status"] != "delivered" && p["status"] != "paid" {
				return false
			}
		}
		return true
	})
}
