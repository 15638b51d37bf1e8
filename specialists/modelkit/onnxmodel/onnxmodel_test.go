package onnxmodel

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"github.com/orchestrate-dev/orchestrate/specialists/modelkit"
	"google.golang.org/protobuf/proto"
)

// parityCase is one exported model with the modelkit form it came from.
type parityCase struct {
	name      string
	ref       predictor
	nFeatures int
	export    func() ([]byte, error)
	inputs    func(seed uint64, rows int) modelkit.Matrix
}

func parityCases() []parityCase {
	var cases []parityCase
	for _, seed := range []uint64{1, 2, 3} {
		rng := newRand(seed)
		lin := randLinear(rng, 13)
		cases = append(cases, parityCase{
			name: "a logistic regression over 13 features", ref: lin, nFeatures: 13,
			export: func() ([]byte, error) { return ExportLinear(lin, 13) },
		})
		lin15 := randLinear(rng, 13)
		cases = append(cases, parityCase{
			name: "a logistic regression padded to 15 features", ref: lin15, nFeatures: 15,
			export: func() ([]byte, error) { return ExportLinear(lin15, 15) },
		})
		mlp := randMLP(rng, 20, 32, 16)
		cases = append(cases, parityCase{
			name: "an MLP 20-32-16-1", ref: mlp, nFeatures: 20,
			export: func() ([]byte, error) { return ExportMLP(mlp) },
		})
		ens := randEnsemble(rng, 30, 4, 20, false)
		cases = append(cases, parityCase{
			name: "a full ensemble of 30 depth-4 trees", ref: ens, nFeatures: 20,
			export: func() ([]byte, error) { return ExportEnsemble(ens, 20) },
			inputs: func(s uint64, rows int) modelkit.Matrix { return boundaryInputs(newRand(s), ens, rows, 20) },
		})
		ragged := randEnsemble(rng, 25, 6, 9, true)
		ragged.Trees = append(ragged.Trees, modelkit.Tree{Nodes: []modelkit.Node{{Leaf: true, Value: 0.25}}})
		cases = append(cases, parityCase{
			name: "a ragged ensemble with a single-leaf tree", ref: ragged, nFeatures: 9,
			export: func() ([]byte, error) { return ExportEnsemble(ragged, 9) },
			inputs: func(s uint64, rows int) modelkit.Matrix { return boundaryInputs(newRand(s), ragged, rows, 9) },
		})
	}
	return cases
}

func TestRuntimeMatchesModelkit(t *testing.T) {
	const tol = 1e-5
	worst := map[string]float64{}
	for ci, c := range parityCases() {
		data, err := c.export()
		if err != nil {
			t.Fatalf("%s: export: %v", c.name, err)
		}
		rt, err := Load(data)
		if err != nil {
			t.Fatalf("%s: load: %v", c.name, err)
		}
		for _, rows := range []int{1, 64} {
			t.Run(fmt.Sprintf("%s predicts like modelkit for %d rows", c.name, rows), func(t *testing.T) {
				seed := uint64(100*ci + rows)
				x := randInputs(newRand(seed), rows, c.nFeatures)
				if c.inputs != nil {
					x = c.inputs(seed, rows)
				}
				got, err := rt.Predict(x)
				if err != nil {
					t.Fatalf("predict: %v", err)
				}
				want := referencePredict(c.ref, x)
				for i := range want {
					d := math.Abs(got[i] - want[i])
					if d > tol {
						t.Errorf("row %d of %d: runtime %.9f, modelkit %.9f (|Δ| %.3g)", i, rows, got[i], want[i], d)
					}
					worst[rt.Family()] = max(worst[rt.Family()], d)
				}
			})
		}
	}
	t.Logf("max |Δ| by family: %v", worst)
}

func TestExportedGraphFollowsTheContract(t *testing.T) {
	for _, c := range parityCases()[:5] {
		t.Run(c.name+" has the documented layout and round-trips", func(t *testing.T) {
			data, err := c.export()
			if err != nil {
				t.Fatal(err)
			}
			mp := &onnx.ModelProto{}
			if err := proto.Unmarshal(data, mp); err != nil {
				t.Fatal(err)
			}
			if mp.IrVersion != irVersion || len(mp.OpsetImport) != 1 || mp.OpsetImport[0].Version != opsetVersion || mp.OpsetImport[0].Domain != "" {
				t.Errorf("ir %d opsets %v, want ir 8 and default-domain opset 13", mp.IrVersion, mp.OpsetImport)
			}
			in := mp.Graph.Input[0].Type.GetTensorType()
			if d := in.Shape.Dim; d[0].GetDimParam() != batchDim || d[1].GetDimValue() != int64(c.nFeatures) {
				t.Errorf("input shape %v, want [N, %d]", d, c.nFeatures)
			}
			out := mp.Graph.Output[0].Type.GetTensorType()
			if mp.Graph.Output[0].Name != outputName || out.Shape.Dim[1].GetDimValue() != 1 {
				t.Errorf("output %s %v, want probability [N, 1]", mp.Graph.Output[0].Name, out.Shape.Dim)
			}
			for _, init := range mp.Graph.Initializer {
				if init.DataType != int32(onnx.TensorProto_FLOAT) {
					t.Errorf("initializer %s has type %d, want float32", init.Name, init.DataType)
				}
			}
			if mp.DocString == "" || len(mp.MetadataProps) == 0 {
				t.Error("model names no family")
			}

			// Re-serialize the parsed proto: Load must serve the same model.
			again, err := proto.Marshal(mp)
			if err != nil {
				t.Fatal(err)
			}
			a, errA := Load(data)
			b, errB := Load(again)
			if errA != nil || errB != nil {
				t.Fatalf("load: %v, %v", errA, errB)
			}
			x := randInputs(newRand(7), 5, c.nFeatures)
			pa, _ := a.Predict(x)
			pb, _ := b.Predict(x)
			for i := range pa {
				if pa[i] != pb[i] {
					t.Errorf("row %d: %v before the round trip, %v after", i, pa[i], pb[i])
				}
			}
			if a.Features() != c.nFeatures || a.Family() == "" {
				t.Errorf("Features %d Family %q", a.Features(), a.Family())
			}
		})
	}
}

func TestLoadRejectsMalformedBytes(t *testing.T) {
	good, err := ExportLinear(randLinear(newRand(1), 3), 3)
	if err != nil {
		t.Fatal(err)
	}
	renamed := &onnx.ModelProto{}
	if err := proto.Unmarshal(good, renamed); err != nil {
		t.Fatal(err)
	}
	renamed.Graph.Input[0].Name = "x"
	renamedBytes, _ := proto.Marshal(renamed)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty bytes are not a model", nil},
		{"random bytes are not a model", []byte("\xff\xff\xff\xff not a protobuf")},
		{"a truncated model does not parse", good[:len(good)/2]},
		{"a graph with another input name breaks the contract", renamedBytes},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Load(c.data); !errors.Is(err, ErrInvalidGraph) {
				t.Errorf("Load: %v, want ErrInvalidGraph", err)
			}
		})
	}
}

func TestPredictChecksTheFeatureCount(t *testing.T) {
	data, _ := ExportLinear(randLinear(newRand(1), 4), 4)
	rt, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Predict(modelkit.NewMatrix(2, 5)); !errors.Is(err, ErrFeatureCount) {
		t.Errorf("5 columns: %v, want ErrFeatureCount", err)
	}
	if p, err := rt.Predict(modelkit.NewMatrix(0, 4)); err != nil || len(p) != 0 {
		t.Errorf("empty batch: %v %v, want no rows", p, err)
	}
}

func TestExportRejectsInconsistentModels(t *testing.T) {
	bad := func(n modelkit.Node) *modelkit.Ensemble {
		return &modelkit.Ensemble{Trees: []modelkit.Tree{{Nodes: []modelkit.Node{n, {Leaf: true}, {Leaf: true}}}}}
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"more weights than features", func() error { _, err := ExportLinear(&modelkit.Linear{Weights: make([]float64, 4)}, 3); return err }()},
		{"an MLP without layers", func() error { _, err := ExportMLP(&modelkit.MLP{}); return err }()},
		{"an MLP whose last layer has two outputs", func() error { _, err := ExportMLP(mlpWithTwoOutputs()); return err }()},
		{"a split on a feature past nFeatures", func() error {
			_, err := ExportEnsemble(bad(modelkit.Node{Feature: 5, Left: 1, Right: 2}), 5)
			return err
		}()},
		{"a child index out of range", func() error { _, err := ExportEnsemble(bad(modelkit.Node{Left: 1, Right: 7}), 5); return err }()},
		{"a node reached twice", func() error { _, err := ExportEnsemble(bad(modelkit.Node{Left: 1, Right: 1}), 5); return err }()},
		{"a tree deeper than 12", func() error { _, err := ExportEnsemble(chainEnsemble(13), 5); return err }()},
	} {
		t.Run(c.name+" is rejected", func(t *testing.T) {
			if !errors.Is(c.err, ErrInvalidModel) {
				t.Errorf("got %v, want ErrInvalidModel", c.err)
			}
		})
	}
}

// chainEnsemble is one tree whose splits each have a leaf on the left,
// depth splits deep.
func chainEnsemble(depth int) *modelkit.Ensemble {
	var t modelkit.Tree
	for d := range depth {
		i := len(t.Nodes)
		t.Nodes = append(t.Nodes,
			modelkit.Node{Feature: d % 5, Threshold: float64(d), Left: i + 1, Right: i + 2},
			modelkit.Node{Leaf: true, Value: float64(d)})
	}
	t.Nodes = append(t.Nodes, modelkit.Node{Leaf: true, Value: -1})
	return &modelkit.Ensemble{Trees: []modelkit.Tree{t}}
}

func TestLargeEnsembleStaysSmall(t *testing.T) {
	ens := randEnsemble(newRand(11), 300, 4, 15, false)
	data, err := ExportEnsemble(ens, 15)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) >= 2<<20 {
		t.Errorf("300 depth-4 trees over 15 features export to %d bytes, want under 2 MB", len(data))
	}
	rt, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	x := boundaryInputs(newRand(12), ens, 2000, 15)
	got, err := rt.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	want := referencePredict(ens, x)
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > 1e-5 {
			t.Fatalf("row %d: runtime %.9f, modelkit %.9f (|Δ| %.3g)", i, got[i], want[i], d)
		}
	}
	t.Logf("%d bytes", len(data))
}

func TestOddlyShapedEnsembles(t *testing.T) {
	stumps := randEnsemble(newRand(21), 40, 1, 3, false)
	mixed := randEnsemble(newRand(22), 5, 2, 4, false)
	mixed.Trees = append(mixed.Trees, randEnsemble(newRand(23), 3, 5, 4, true).Trees...)
	for _, c := range []struct {
		name      string
		ens       *modelkit.Ensemble
		nFeatures int
	}{
		{"stumps (one split per tree)", stumps, 3},
		{"trees of depths 2 and up to 5", mixed, 4},
		{"a chain 10 splits deep", chainEnsemble(10), 5},
		{"only single-leaf trees", &modelkit.Ensemble{Base: 0.5, Trees: []modelkit.Tree{{Nodes: []modelkit.Node{{Leaf: true, Value: -1.25}}}}}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := ExportEnsemble(c.ens, c.nFeatures)
			if err != nil {
				t.Fatal(err)
			}
			rt, err := Load(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, rows := range []int{1, 7} {
				x := randInputs(newRand(uint64(rows)), rows, c.nFeatures)
				for i := range x.Data {
					x.Data[i] *= 10 // reach the chain's thresholds 0..9
				}
				got, err := rt.Predict(x)
				if err != nil {
					t.Fatal(err)
				}
				want := referencePredict(c.ens, x)
				for i := range want {
					if d := math.Abs(got[i] - want[i]); d > 1e-5 {
						t.Errorf("%d rows, row %d: runtime %.9f, modelkit %.9f", rows, i, got[i], want[i])
					}
				}
			}
		})
	}
}

func mlpWithTwoOutputs() *modelkit.MLP {
	return &modelkit.MLP{Layers: []modelkit.Layer{{In: 3, Out: 2, W: make([]float64, 6), B: make([]float64, 2)}}}
}

func TestThresholdRoundingKeepsFloat32Decisions(t *testing.T) {
	rng := newRand(9)
	for i := 0; i < 20000; i++ {
		thr := rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-6))
		if i%4 == 0 {
			thr = float64(float32(thr)) // representable thresholds stay put
		}
		u := thresholdFloat32(thr)
		base := float32(thr)
		for _, x := range []float32{base, math.Nextafter32(base, -1e30), math.Nextafter32(base, 1e30), u, math.Nextafter32(u, -1e30)} {
			if (x < u) != (float64(x) < thr) {
				t.Fatalf("threshold %v → %v: x=%v decides %v in float32, %v in float64", thr, u, x, x < u, float64(x) < thr)
			}
		}
	}
}

func TestPredictIsSafeForConcurrentUse(t *testing.T) {
	rng := newRand(4)
	ens := randEnsemble(rng, 10, 3, 6, true)
	data, _ := ExportEnsemble(ens, 6)
	rt, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	x := randInputs(rng, 16, 6)
	want, _ := rt.Predict(x)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := rt.Predict(x)
				if err != nil {
					t.Error(err)
					return
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("row %d: %v, want %v", i, got[i], want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestEveryFamilyWritesALoadableFile exports one model per family and
// loads the written file back. With ONNXMODEL_DUMP_DIR set, the files stay
// there for the reference ONNX checker (see docs/modelkit.md).
func TestEveryFamilyWritesALoadableFile(t *testing.T) {
	dir := os.Getenv("ONNXMODEL_DUMP_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	rng := newRand(5)
	for _, c := range []struct {
		file     string
		features int
		export   func() ([]byte, error)
	}{
		{"linear.onnx", 13, func() ([]byte, error) { return ExportLinear(randLinear(rng, 13), 13) }},
		{"mlp.onnx", 13, func() ([]byte, error) { return ExportMLP(randMLP(rng, 13, 32, 16)) }},
		{"ensemble.onnx", 20, func() ([]byte, error) { return ExportEnsemble(randEnsemble(rng, 100, 4, 20, false), 20) }},
	} {
		data, err := c.export()
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		path := filepath.Join(dir, c.file)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		back, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := Load(back)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if rt.Features() != c.features || rt.Family() == "" {
			t.Errorf("%s: %d features, family %q", c.file, rt.Features(), rt.Family())
		}
	}
}
