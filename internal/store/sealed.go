package store

import (
	"context"
	"fmt"
)

// Kinds of sealed values, wherever they are stored.
const (
	SealedSecret  = "secret"  // secrets.value
	SealedSigning = "signing" // automation_versions.signing_secret
)

// SealedValue is one value sealed with the secret key (base64), and where
// it is stored: for a secret its organisation and name; for a signing
// secret its organisation, automation id (Name) and version.
type SealedValue struct {
	Kind    string
	OrgID   string
	Name    string
	Version int64
	Sealed  string
}

// SealedValues returns up to limit sealed values that come after `after` in
// a stable order — every secret, then every signing secret — for going
// through all of them in pages (the zero SealedValue starts at the
// beginning).
func (o ops) SealedValues(ctx context.Context, after SealedValue, limit int) ([]SealedValue, error) {
	var out []SealedValue
	if after.Kind == "" || after.Kind == SealedSecret {
		rs, err := o.q.query(ctx, `SELECT org_id, name, value FROM secrets WHERE org_id > ? OR (org_id = ? AND name > ?) ORDER BY org_id, name LIMIT ?`,
			after.OrgID, after.OrgID, after.Name, limit)
		if err != nil {
			return nil, fmt.Errorf("list sealed secrets: %w", err)
		}
		for rs.Next() {
			v := SealedValue{Kind: SealedSecret}
			if err := rs.Scan(&v.OrgID, &v.Name, &v.Sealed); err != nil {
				rs.Close()
				return nil, fmt.Errorf("list sealed secrets: %w", err)
			}
			out = append(out, v)
		}
		if err := rs.Close(); err != nil {
			return nil, fmt.Errorf("list sealed secrets: %w", err)
		}
		if len(out) == limit {
			return out, nil
		}
		after = SealedValue{Kind: SealedSigning}
	}
	rs, err := o.q.query(ctx, `SELECT org_id, automation_id, version, signing_secret FROM automation_versions
		WHERE signing_secret IS NOT NULL AND signing_secret <> '' AND (automation_id > ? OR (automation_id = ? AND version > ?))
		ORDER BY automation_id, version LIMIT ?`, after.Name, after.Name, after.Version, limit-len(out))
	if err != nil {
		return nil, fmt.Errorf("list sealed signing secrets: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		v := SealedValue{Kind: SealedSigning}
		if err := rs.Scan(&v.OrgID, &v.Name, &v.Version, &v.Sealed); err != nil {
			return nil, fmt.Errorf("list sealed signing secrets: %w", err)
		}
		out = append(out, v)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list sealed signing secrets: %w", err)
	}
	return out, nil
}

// Reseal replaces a sealed value with resealed if it still is v.Sealed (a
// value changed meanwhile, by a person saving a secret, is left alone), and
// reports whether it did. Times are kept: sealing again changes no value.
func (tx *Tx) Reseal(ctx context.Context, v SealedValue, resealed string) (bool, error) {
	var (
		n   int64
		err error
	)
	switch v.Kind {
	case SealedSecret:
		n, err = tx.q.exec(ctx, `UPDATE secrets SET value = ? WHERE org_id = ? AND name = ? AND value = ?`, resealed, v.OrgID, v.Name, v.Sealed)
	case SealedSigning:
		n, err = tx.q.exec(ctx, `UPDATE automation_versions SET signing_secret = ? WHERE org_id = ? AND automation_id = ? AND version = ? AND signing_secret = ?`,
			resealed, v.OrgID, v.Name, v.Version, v.Sealed)
	default:
		return false, fmt.Errorf("reseal: unknown kind %q", v.Kind)
	}
	if err != nil {
		return false, fmt.Errorf("reseal %s %s: %w", v.Kind, v.Name, err)
	}
	if n == 0 {
		return false, nil
	}
	return true, tx.bumpCatalog(ctx, v.OrgID)
}

// After reports whether v comes after w in the order of SealedValues.
func (v SealedValue) After(w SealedValue) bool {
	if v.Kind != w.Kind {
		return v.Kind == SealedSigning // secrets first
	}
	if v.Kind == SealedSigning {
		return v.Name > w.Name || v.Name == w.Name && v.Version > w.Version
	}
	return v.OrgID > w.OrgID || v.OrgID == w.OrgID && v.Name > w.Name
}

// LastSealedValue is the last of SealedValues' order (the zero value when
// there is none).
func (o ops) LastSealedValue(ctx context.Context) (SealedValue, error) {
	v := SealedValue{Kind: SealedSigning}
	err := o.q.queryRow(ctx, `SELECT org_id, automation_id, version FROM automation_versions
		WHERE signing_secret IS NOT NULL AND signing_secret <> '' ORDER BY automation_id DESC, version DESC LIMIT 1`).Scan(&v.OrgID, &v.Name, &v.Version)
	if err == nil {
		return v, nil
	}
	if !isNoRows(err) {
		return v, fmt.Errorf("last sealed signing secret: %w", err)
	}
	v = SealedValue{Kind: SealedSecret}
	err = o.q.queryRow(ctx, `SELECT org_id, name FROM secrets ORDER BY org_id DESC, name DESC LIMIT 1`).Scan(&v.OrgID, &v.Name)
	if isNoRows(err) {
		return SealedValue{}, nil
	}
	if err != nil {
		return v, fmt.Errorf("last sealed secret: %w", err)
	}
	return v, nil
}
