package api

import (
	"encoding/json"
	"time"
)

// Position is one stock record in GET /v1/positions.
type Position struct {
	WarehouseID string    `json:"warehouseId"`
	ItemID      string    `json:"itemId"`
	LocationID  string    `json:"locationId"`
	LotNumber   string    `json:"lotNumber"`
	OnHand      int64     `json:"onHand"`
	Allocated   int64     `json:"allocated"`
	Available   int64     `json:"available"`
	Version     int64     `json:"version"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Totals sums the positions of an answer.
type Totals struct {
	OnHand    int64 `json:"onHand"`
	Allocated int64 `json:"allocated"`
	Available int64 `json:"available"`
}

// Positions is the answer of GET /v1/positions.
type Positions struct {
	Positions []Position `json:"positions"`
	Totals    Totals     `json:"totals"`
}

// AllocationRequest is the body of POST /v1/allocations.
type AllocationRequest struct {
	AllocationID *string          `json:"allocationId"`
	OrderID      *string          `json:"orderId"`
	OrderLine    *int32           `json:"orderLine"`
	WarehouseID  *string          `json:"warehouseId"`
	ItemID       *string          `json:"itemId"`
	Quantity     *json.RawMessage `json:"quantity"`
	LocationID   *string          `json:"locationId"`
	LotNumber    *string          `json:"lotNumber"`
	AllowPartial *bool            `json:"allowPartial"`
	ExpiresAt    *string          `json:"expiresAt"`
}

// Allocation is an allocation as GET /v1/allocations/{id} shows it.
type Allocation struct {
	AllocationID      string              `json:"allocationId"`
	OrderID           string              `json:"orderId"`
	OrderLine         int32               `json:"orderLine"`
	WarehouseID       string              `json:"warehouseId"`
	ItemID            string              `json:"itemId"`
	Status            string              `json:"status"`
	RequestedQuantity int64               `json:"requestedQuantity"`
	ConfirmedQuantity int64               `json:"confirmedQuantity"`
	BackorderQuantity int64               `json:"backorderQuantity"`
	PickedQuantity    int64               `json:"pickedQuantity"`
	Lines             []AllocationLine    `json:"lines"`
	Reason            *string             `json:"reason"`
	ExpiresAt         *time.Time          `json:"expiresAt,omitempty"`
	History           []AllocationHistory `json:"history"`
}

// AllocationLine is the stock an allocation holds at one location and lot.
type AllocationLine struct {
	LocationID string `json:"locationId"`
	LotNumber  string `json:"lotNumber"`
	Quantity   int64  `json:"quantity"`
}

// AllocationHistory is one state change of an allocation.
type AllocationHistory struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
}

// AllocationAnswer is the answer of an allocation not decided yet: 202
// to POST /v1/allocations and DELETE /v1/allocations/{id} (cancellation
// "pending"), 200 to a GET of one still TENTATIVE.
type AllocationAnswer struct {
	AllocationID string `json:"allocationId"`
	Cancellation string `json:"cancellation,omitempty"`
	Status       string `json:"status"`
}

// AllocationList is the answer of GET /v1/allocations?orderId=.
type AllocationList struct {
	Allocations []Allocation `json:"allocations"`
	OrderID     string       `json:"orderId"`
}

// LockRequest is the body of POST /v1/locks.
type LockRequest struct {
	WarehouseID *string          `json:"warehouseId"`
	LocationID  *string          `json:"locationId"`
	ScannerID   *string          `json:"scannerId"`
	TTLSeconds  *json.RawMessage `json:"ttlSeconds"`
}

// The statuses of a lock, a token and a count task as of the answer.
const (
	LockActive   = "ACTIVE"
	LockReleased = "RELEASED"
	LockExpired  = "EXPIRED"

	TokenActive  = "ACTIVE"
	TokenRevoked = "REVOKED"
	TokenExpired = "EXPIRED"
)

// Lock is a location lock.
type Lock struct {
	LockID      string     `json:"lockId"`
	WarehouseID string     `json:"warehouseId"`
	LocationID  string     `json:"locationId"`
	ScannerID   string     `json:"scannerId"`
	AcquiredAt  time.Time  `json:"acquiredAt"`
	ExpiresAt   time.Time  `json:"expiresAt"`
	ReleasedAt  *time.Time `json:"releasedAt"`
	// Status is ACTIVE, RELEASED or EXPIRED as of the answer.
	Status string `json:"status"`
}

// LockList is the answer of GET /v1/locks?warehouseId=.
type LockList struct {
	Locks       []Lock `json:"locks"`
	WarehouseID string `json:"warehouseId"`
}

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	Name       *string    `json:"name"`
	Role       *string    `json:"role"`
	Warehouses []string   `json:"warehouses"`
	ExpiresAt  *time.Time `json:"expiresAt"`
}

// Token is a token as the API shows it: never its hash; the secret only
// in the answer that creates it.
type Token struct {
	TokenID    string     `json:"tokenId"`
	Token      string     `json:"token,omitempty"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	Warehouses []string   `json:"warehouses"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	CreatedAt  time.Time  `json:"createdAt"`
	CreatedBy  string     `json:"createdBy"`
	RevokedAt  *time.Time `json:"revokedAt"`
	Status     string     `json:"status"`
}

// TokenList is the answer of GET /v1/tokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// Me is the answer of GET /v1/me: who the token is.
type Me struct {
	ExpiresAt  *time.Time `json:"expiresAt"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	TokenID    string     `json:"tokenId"`
	Warehouses []string   `json:"warehouses"`
}

// Status is the answer of /healthz and /readyz.
type Status struct {
	Status string `json:"status"`
}

// CatalogSize counts a catalog's warehouses and items.
type CatalogSize struct {
	Items      int `json:"items"`
	Warehouses int `json:"warehouses"`
}

// CatalogAnswer is the answer of PUT /v1/catalog: what the request
// upserted and the catalog's size after it. The catalog document itself
// is processors.CatalogDoc, which parses and checks it.
type CatalogAnswer struct {
	Catalog  CatalogSize `json:"catalog"`
	Upserted CatalogSize `json:"upserted"`
}

// Cluster is the answer of GET /v1/cluster (admin only): the seed
// brokers, topic prefix and partitions of the deployment.
type Cluster struct {
	Brokers     []string `json:"brokers"`
	TopicPrefix string   `json:"topicPrefix"`
	Partitions  int32    `json:"partitions"`
}
