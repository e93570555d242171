package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/processors"
)

// adminTokenFile is where the first start writes the admin token it made.
const adminTokenFile = auth.AdminTokenFile

// bootstrapAdmin makes the first admin token when there is no way in:
// no --admin-token and no active admin token stored. The token goes to
// <data-dir>/admin-token (mode 0600) and only its path to the log.
func (p *parts) bootstrapAdmin(ctx context.Context) error {
	cfg := p.s.cfg
	now := time.Now()
	if cfg.Now != nil {
		now = cfg.Now()
	}
	if cfg.AdminToken != "" || p.tokens.Registry().HasActiveAdmin(now) {
		return nil
	}
	tok, secret, err := auth.New(auth.Request{Name: auth.BootstrapAdminName, Role: auth.RoleAdmin,
		Warehouses: []string{auth.AllWarehouses}, CreatedBy: "invsync serve (first start)"}, now)
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.DataDir, adminTokenFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing the admin token: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.tokens.Publish(wctx, tok); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing the admin token: %w", err)
	}
	p.s.log.Warn("no admin token existed: generated one; it is in the file named here (read it, keep it safe, and create other tokens with it: invsync token create)",
		"file", path, "tokenId", tok.TokenID)
	return nil
}

// seedCatalog loads --catalog, or the demo catalog into an empty topic.
func (p *parts) seedCatalog(ctx context.Context) error {
	if err := p.catalog.WaitLoaded(ctx); err != nil {
		return err
	}
	cfg := p.s.cfg
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if cfg.Catalog != "" {
		data, err := os.ReadFile(cfg.Catalog)
		if err != nil {
			return fmt.Errorf("reading --catalog: %w", err)
		}
		doc, err := processors.ParseCatalog(data)
		if err != nil {
			return fmt.Errorf("--catalog %s: %w", cfg.Catalog, err)
		}
		p.s.log.Info("loading catalog file", "file", cfg.Catalog, "warehouses", len(doc.Warehouses), "items", len(doc.Items))
		return p.catalog.Publish(wctx, doc)
	}
	if w, i := p.catalog.Catalog().Size(); w == 0 && i == 0 {
		p.s.log.Info("catalog topic is empty; seeding the built-in demo catalog (8 warehouses, 3000 items)")
		return p.catalog.Publish(wctx, processors.DemoCatalog())
	}
	return nil
}
