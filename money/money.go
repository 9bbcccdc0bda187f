// Package money holds amounts of money as integer minor units (cents), so that
// no amount is ever a float. On the wire an amount is a decimal string with a
// currency: {"amount": "1250.00", "currency": "EUR"}.
package money

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Cents is an amount in minor units of its currency (two decimal places).
type Cents int64

var decimalRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$`)

// ErrInvalidAmount says a string is not a non-negative decimal with at most two decimals.
var ErrInvalidAmount = errors.New(`must be a non-negative decimal string such as "1250.00"`)

// Parse reads a non-negative decimal string with at most two decimals.
func Parse(s string) (Cents, error) {
	if !decimalRE.MatchString(s) {
		return 0, ErrInvalidAmount
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, ErrInvalidAmount
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, ErrInvalidAmount
	}
	return Cents(w*100 + f), nil
}

// MustParse is Parse for constants in code and tests; it panics on a bad literal.
func MustParse(s string) Cents {
	c, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("money.MustParse(%q): %v", s, err))
	}
	return c
}

// String formats the amount as a decimal string with two decimals.
func (c Cents) String() string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// Money is an amount with its ISO 4217 currency, as the API and partners exchange it.
type Money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// Of builds a Money from cents and a currency.
func Of(c Cents, currency string) Money { return Money{Amount: c.String(), Currency: currency} }

// Cents returns the amount in minor units.
func (m Money) Cents() (Cents, error) { return Parse(m.Amount) }
