// Streaming inference with a model exported by keras_spiking_rnn.export.
//
// A template: copy it next to the generated model_data.cc, model_data.h,
// model_ops.h and model_settings.h and adapt main() to the board.
//
// The exported model is one time step of the spiking RNN. One Invoke()
// reads one int8 frame of shape (1, kFeatures) and writes one int8 output of
// shape (1, kOutputs). The neuron state (membrane potentials, adaptation,
// spikes, readout) stays in TFLM resource variables from one Invoke() to the
// next; interpreter->Reset() sets it back to 0 to start a new sequence. After
// the last frame of a sequence the argmax of the output is the class.
//
// Build: C++17 against a TensorFlow Lite Micro tree; see README.md.

#include <cmath>
#include <cstdint>

#include "model_data.h"      // g_model: the .tflite flatbuffer
#include "model_ops.h"       // ModelOpResolver, RegisterModelOps()
#include "model_settings.h"  // kFeatures, kOutputs, kSequenceLength, arena, scales
#include "tensorflow/lite/micro/micro_allocator.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/micro_resource_variable.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

// Slots for resource variables: model_settings.h gives kResourceVariables, the
// number of state variables of the model (one per state tensor; 8 for the
// two-layer ALIF example). Too few makes AllocateTensors() fail with "Maximum
// resource variable count (N) reached".

// The tensor arena: activations, state, interpreter bookkeeping. TFLM wants
// it 16-byte aligned.
alignas(16) uint8_t tensor_arena[kTensorArenaBytes];

tflite::MicroInterpreter* interpreter = nullptr;

// Builds the interpreter. Every object it points to must outlive it, hence
// the statics; a second call returns at once.
TfLiteStatus SetUpModel() {
  if (interpreter != nullptr) return kTfLiteOk;

  const tflite::Model* model = tflite::GetModel(g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    MicroPrintf("Model schema version %d, this TFLM supports %d.",
                static_cast<int>(model->version()), TFLITE_SCHEMA_VERSION);
    return kTfLiteError;
  }

  static ModelOpResolver resolver;
  if (RegisterModelOps(resolver) != kTfLiteOk) {
    MicroPrintf("Registering the model's ops failed.");
    return kTfLiteError;
  }

  // The resource variables live in the arena, so the arena needs an explicit
  // allocator shared by them and the interpreter.
  tflite::MicroAllocator* allocator =
      tflite::MicroAllocator::Create(tensor_arena, kTensorArenaBytes);
  if (allocator == nullptr) {
    MicroPrintf("Creating the arena allocator failed.");
    return kTfLiteError;
  }
  tflite::MicroResourceVariables* variables =
      tflite::MicroResourceVariables::Create(allocator, kResourceVariables);
  if (variables == nullptr) {
    MicroPrintf("Creating %d resource variables failed.", kResourceVariables);
    return kTfLiteError;
  }

  static tflite::MicroInterpreter static_interpreter(model, resolver,
                                                     allocator, variables);
  if (static_interpreter.AllocateTensors() != kTfLiteOk) {
    MicroPrintf("AllocateTensors() failed: kTensorArenaBytes (%d) too small, "
                "too few resource variables, or an op missing.",
                kTensorArenaBytes);
    return kTfLiteError;
  }

  // Check that model_settings.h belongs to this model.
  const TfLiteTensor* input = static_interpreter.input(0);
  const TfLiteTensor* output = static_interpreter.output(0);
  if (input->type != kTfLiteInt8 || input->bytes != sizeof(int8_t) * kFeatures ||
      output->type != kTfLiteInt8 || output->bytes != sizeof(int8_t) * kOutputs) {
    MicroPrintf("The model's input/output do not match model_settings.h.");
    return kTfLiteError;
  }

  interpreter = &static_interpreter;
  return kTfLiteOk;
}

// Float to the input's int8 grid: round half away from zero, saturate.
int8_t QuantizeInput(float value) {
  const float q = std::round(value / kInputScale) + kInputZeroPoint;
  return static_cast<int8_t>(std::fmin(127.0f, std::fmax(-128.0f, q)));
}

}  // namespace

// Runs one sequence, frames[t * kFeatures + f] for t < kSequenceLength, and
// returns the class (argmax of the last output), or -1 on error.
int ClassifySequence(const float* frames) {
  // New sequence: every state back to 0. (Reset() zeroes the variables; it
  // does not run the model's CALL_ONCE initializer again.)
  if (interpreter->Reset() != kTfLiteOk) {
    MicroPrintf("Reset() failed.");
    return -1;
  }

  int8_t* input = interpreter->input(0)->data.int8;
  for (int t = 0; t < kSequenceLength; ++t) {
    // On a device this loop body runs once per frame, as frames arrive.
    for (int f = 0; f < kFeatures; ++f) {
      input[f] = QuantizeInput(frames[t * kFeatures + f]);
    }
    if (interpreter->Invoke() != kTfLiteOk) {
      MicroPrintf("Invoke() failed at frame %d.", t);
      return -1;
    }
  }

  // Dequantize the last output and take its argmax.
  const int8_t* output = interpreter->output(0)->data.int8;
  int best = 0;
  float best_score = 0.0f;
  for (int k = 0; k < kOutputs; ++k) {
    const float score = (output[k] - kOutputZeroPoint) * kOutputScale;
    if (k == 0 || score > best_score) {
      best = k;
      best_score = score;
    }
  }
  return best;
}

int main() {
  tflite::InitializeTarget();
  if (SetUpModel() != kTfLiteOk) return 1;

  static const float frames[kSequenceLength * kFeatures] = {};  // all zeros
  const int predicted = ClassifySequence(frames);
  if (predicted < 0) return 1;

  MicroPrintf("class: %d", predicted);
  MicroPrintf("arena used: %d of %d bytes",
              static_cast<int>(interpreter->arena_used_bytes()),
              kTensorArenaBytes);
  return 0;
}
