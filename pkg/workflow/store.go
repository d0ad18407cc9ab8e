package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/ttlcache"
)

// ErrDuplicateIdentifier is returned when the trigger identifier is taken in the environment.
var ErrDuplicateIdentifier = errors.New("workflow trigger identifier already exists")

type triggerKey struct {
	env        primitive.ObjectID
	identifier string
}

// Store reads and writes workflows. FindByTrigger and Get are cached for the
// configured TTL; changes made through this Store invalidate its cache at
// once, changes made by another process are seen within the TTL.
type Store struct {
	coll      *mongo.Collection
	byTrigger *ttlcache.Cache[triggerKey, *Workflow] // nil value: known absent
	byID      *ttlcache.Cache[primitive.ObjectID, *Workflow]
}

// NewStore returns a Store.
func NewStore(st *store.Store, cacheTTL time.Duration) *Store {
	return &Store{
		coll:      st.C(store.Workflows),
		byTrigger: ttlcache.New[triggerKey, *Workflow](cacheTTL, 10000),
		byID:      ttlcache.New[primitive.ObjectID, *Workflow](cacheTTL, 10000),
	}
}

func (s *Store) invalidate(w *Workflow) {
	s.byID.Delete(w.ID)
	s.byTrigger.DeleteFunc(func(k triggerKey, v *Workflow) bool {
		return (k.env == w.EnvironmentID && k.identifier == w.TriggerIdentifier) || (v != nil && v.ID == w.ID)
	})
}

// Create stores w, assigning ids to it and its steps.
func (s *Store) Create(ctx context.Context, w *Workflow) error {
	now := store.Now()
	w.ID = primitive.NewObjectID()
	w.CreatedAt, w.UpdatedAt = now, now
	assignIDs(w)
	if _, err := s.coll.InsertOne(ctx, w); err != nil {
		if store.IsDuplicateKey(err) {
			return ErrDuplicateIdentifier
		}
		return fmt.Errorf("workflow: create: %w", err)
	}
	s.invalidate(w)
	return nil
}

func assignIDs(w *Workflow) {
	if w.Tags == nil {
		w.Tags = []string{}
	}
	if w.Steps == nil {
		w.Steps = []Step{}
	}
	for i := range w.Steps {
		if w.Steps[i].ID.IsZero() {
			w.Steps[i].ID = primitive.NewObjectID()
		}
		if w.Steps[i].Template.ID.IsZero() {
			w.Steps[i].Template.ID = primitive.NewObjectID()
		}
	}
}

// Replace stores w over the existing workflow with its id.
func (s *Store) Replace(ctx context.Context, w *Workflow) error {
	old, err := s.load(ctx, w.EnvironmentID, w.ID)
	if err != nil {
		return err
	}
	if old.TriggerIdentifier != w.TriggerIdentifier {
		// FerretDB v1 reports a unique violation on update as an internal
		// error, so check first; the unique index still guards races.
		other, err := s.findOne(ctx, bson.M{"_environmentId": w.EnvironmentID, "triggerIdentifier": w.TriggerIdentifier})
		if err == nil && other.ID != w.ID {
			return ErrDuplicateIdentifier
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	w.CreatedAt, w.UpdatedAt = old.CreatedAt, store.Now()
	assignIDs(w)
	res, err := s.coll.ReplaceOne(ctx, bson.M{"_id": w.ID, "_environmentId": w.EnvironmentID}, w)
	switch {
	case store.IsDuplicateKey(err) || (err != nil && strings.Contains(err.Error(), "duplicate key")):
		return ErrDuplicateIdentifier
	case err != nil:
		return fmt.Errorf("workflow: update: %w", err)
	case res.MatchedCount == 0:
		return store.ErrNotFound
	}
	s.invalidate(old)
	s.invalidate(w)
	return nil
}

// SetActive changes a workflow's active flag.
func (s *Store) SetActive(ctx context.Context, env, id primitive.ObjectID, active bool) (*Workflow, error) {
	var out Workflow
	err := s.coll.FindOneAndUpdate(ctx, bson.M{"_id": id, "_environmentId": env},
		bson.M{"$set": bson.M{"active": active, "updatedAt": store.Now()}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("workflow: set status: %w", err)
	}
	s.invalidate(&out)
	return &out, nil
}

// Delete removes a workflow.
func (s *Store) Delete(ctx context.Context, env, id primitive.ObjectID) error {
	old, err := s.load(ctx, env, id)
	if err != nil {
		return err
	}
	res, err := s.coll.DeleteOne(ctx, bson.M{"_id": id, "_environmentId": env})
	if err != nil {
		return fmt.Errorf("workflow: delete: %w", err)
	}
	s.invalidate(old)
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Get returns one workflow (uncached: for the management API).
func (s *Store) Get(ctx context.Context, env, id primitive.ObjectID) (*Workflow, error) {
	return s.load(ctx, env, id)
}

// GetCached returns one workflow, cached (for the worker).
func (s *Store) GetCached(ctx context.Context, env, id primitive.ObjectID) (*Workflow, error) {
	if w, ok := s.byID.Get(id); ok && w.EnvironmentID == env {
		return w, nil
	}
	w, err := s.load(ctx, env, id)
	if err != nil {
		return nil, err
	}
	s.byID.Set(id, w)
	return w, nil
}

// FindByTrigger returns the environment's workflow with the trigger
// identifier, cached (absence too).
func (s *Store) FindByTrigger(ctx context.Context, env primitive.ObjectID, identifier string) (*Workflow, error) {
	k := triggerKey{env, identifier}
	if w, ok := s.byTrigger.Get(k); ok {
		if w == nil {
			return nil, store.ErrNotFound
		}
		return w, nil
	}
	w, err := s.findOne(ctx, bson.M{"_environmentId": env, "triggerIdentifier": identifier})
	if errors.Is(err, store.ErrNotFound) {
		s.byTrigger.Set(k, nil)
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	s.byTrigger.Set(k, w)
	return w, nil
}

// List returns a page of the environment's workflows, newest first, and the total.
func (s *Store) List(ctx context.Context, env primitive.ObjectID, page, limit int) ([]Workflow, int64, error) {
	f := bson.M{"_environmentId": env}
	total, err := s.coll.CountDocuments(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("workflow: count: %w", err)
	}
	cur, err := s.coll.Find(ctx, f, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).
		SetSkip(int64(page*limit)).SetLimit(int64(limit)))
	if err != nil {
		return nil, 0, fmt.Errorf("workflow: list: %w", err)
	}
	out := []Workflow{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, 0, fmt.Errorf("workflow: list: %w", err)
	}
	return out, total, nil
}

func (s *Store) load(ctx context.Context, env, id primitive.ObjectID) (*Workflow, error) {
	return s.findOne(ctx, bson.M{"_id": id, "_environmentId": env})
}

func (s *Store) findOne(ctx context.Context, f bson.M) (*Workflow, error) {
	var out Workflow
	err := s.coll.FindOne(ctx, f).Decode(&out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("workflow: find: %w", err)
	}
	return &out, nil
}
