// Firmware check of a model exported by keras_spiking_rnn.export: runs the
// test sequences of test_vectors.h through the streaming (one step per
// Invoke()) model and compares every int8 output with the one the Python
// TFLM interpreter gave. Built by export/Makefile for the host (TARGET=host)
// or for a Cortex-M4F under QEMU (TARGET=cortex-m4, see cortex_m4/).
//
// The loop is that of streaming_main.cc: Reset() before each sequence (state
// back to 0), then per step: copy the int8 frame into the input tensor,
// Invoke(), read the int8 output.
//
// Output: lines starting with "KSR ", printed with printf (on the Cortex-M4
// through newlib's semihosting, --specs=rdimon.specs):
//   KSR arena_used_bytes=<N>
//   KSR mismatch sequence=<s> step=<t> output=<o> got=<g> expected=<e>
//       (the first mismatch only)
//   KSR result sequences=<S> steps=<total steps> outputs=<total outputs
//       compared> mismatched=<count>
// Cortex-M4 only:
//   KSR systick_calibration loop_instructions=<N> ticks=<T>
//       instructions_per_tick=<I>
//   KSR instructions_per_step=<median> min=<min> max=<max>
//   KSR stack_used_bytes=<N> stack_size_bytes=<N> heap_used_bytes=<N>
// and, on a setup error, "KSR error <message>".
//
// Exit code: 0 if every output matches, 1 on any mismatch, 2 on a setup or
// runtime error (on the Cortex-M4 also a fault or abort(), reported by
// cortex_m4/startup.c with a "KSR error" line).

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "model_data.h"      // g_model: the .tflite flatbuffer
#include "model_ops.h"       // ModelOpResolver, RegisterModelOps()
#include "model_settings.h"  // kFeatures, kOutputs, kTensorArenaBytes, ...
#include "tensorflow/lite/micro/micro_allocator.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_resource_variable.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "test_vectors.h"    // kTestInputs, kTestExpected

// TFLM's cortex_m_generic DebugLog() (the cmsis-nn tree is generated for that
// target) drops every message until a callback is registered. The reference
// tree's DebugLog() writes to stderr itself.
#if __has_include("tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h")
#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"
#define KSR_HAVE_DEBUG_LOG_CALLBACK 1
#endif

namespace {

constexpr int kExitOk = 0;
constexpr int kExitMismatch = 1;
constexpr int kExitError = 2;

int Fail(const char* message) {
  printf("KSR error %s\n", message);
  return kExitError;
}

#if defined(KSR_HAVE_DEBUG_LOG_CALLBACK)
// MicroPrintf() sends the message, then "\r\n"; drop the '\r'.
void PrintDebugLog(const char* s) {
  for (; *s != '\0'; ++s) {
    if (*s != '\r') putchar(*s);
  }
}
#endif

#if defined(KSR_CORTEX_M)
// ---------------------------------------------------------------------------
// Instruction counting with SysTick (Cortex-M4 under QEMU).
//
// QEMU does not implement the DWT cycle counter (CYCCNT reads 0). With
// `-icount shift=0` QEMU's virtual clock advances exactly 2^0 = 1 ns per
// executed guest instruction, and SysTick, clocked from the processor clock
// (CLKSOURCE=1; 25 MHz on mps2-an386, 40 ns per tick), decrements once per
// 40 executed instructions. So ticks * 40 = instructions; these are counts of
// executed instructions, not Cortex-M4 cycles (a real M4 takes more cycles:
// loads, multiplies with accumulate, taken branches, flash wait states).
//
// Calibration (CalibrateSysTick below, printed as KSR systick_calibration):
// a loop of exactly 2 instructions per iteration (SUBS, BNE), run 1,000,000
// times = 2,000,000 instructions, takes 50,000 ticks under `-icount
// shift=0`: 40 instructions per tick, as expected. The firmware converts
// ticks with the measured ratio (rounded), so a different -icount shift or
// board clock shows up in that line instead of silently scaling the figures.
// Without -icount, SysTick follows host time and the figures mean nothing.
//
// SysTick is a 24-bit down-counter; it runs free (no interrupt, so no handler
// instructions are counted) and elapsed ticks are taken modulo 2^24, which
// is right as long as one Invoke() takes fewer than 2^24 ticks
// (671 million instructions).
// ---------------------------------------------------------------------------
volatile uint32_t& SysTickCtrl() { return *reinterpret_cast<volatile uint32_t*>(0xE000E010u); }
volatile uint32_t& SysTickLoad() { return *reinterpret_cast<volatile uint32_t*>(0xE000E014u); }
volatile uint32_t& SysTickValue() { return *reinterpret_cast<volatile uint32_t*>(0xE000E018u); }

constexpr uint32_t kSysTickMask = 0x00FFFFFFu;

void StartSysTick() {
  SysTickCtrl() = 0;
  SysTickLoad() = kSysTickMask;
  SysTickValue() = 0;             // any write clears the counter
  SysTickCtrl() = (1u << 2) | 1u;  // CLKSOURCE = processor clock, ENABLE
}

inline uint32_t ReadSysTick() { return SysTickValue(); }

inline uint32_t TicksBetween(uint32_t start, uint32_t end) {
  return (start - end) & kSysTickMask;  // down-counter
}

constexpr uint32_t kCalibrationIterations = 1000000;
constexpr uint32_t kCalibrationInstructions = 2 * kCalibrationIterations;

uint32_t CalibrateSysTick() {
  uint32_t n = kCalibrationIterations;
  const uint32_t start = ReadSysTick();
  __asm__ volatile(
      "1:\n\t"
      "subs %0, %0, #1\n\t"
      "bne 1b"
      : "+r"(n)
      :
      : "cc");
  const uint32_t end = ReadSysTick();
  return TicksBetween(start, end);
}

// Ticks of every Invoke(), for the median.
uint32_t step_ticks[kTestSequences * kTestSteps];

void SortTicks(uint32_t* values, int count) {  // insertion sort, count is small
  for (int i = 1; i < count; ++i) {
    const uint32_t v = values[i];
    int j = i - 1;
    for (; j >= 0 && values[j] > v; --j) values[j + 1] = values[j];
    values[j + 1] = v;
  }
}
#endif  // KSR_CORTEX_M

// The tensor arena: activations, state, interpreter bookkeeping. TFLM wants
// it 16-byte aligned.
alignas(16) uint8_t tensor_arena[kTensorArenaBytes];

}  // namespace

#if defined(KSR_CORTEX_M)
extern "C" uint32_t ksr_stack_used_bytes(void);  // cortex_m4/startup.c
extern "C" uint32_t ksr_stack_size_bytes(void);
extern "C" char end;                                // cortex_m4/mps2_an386.ld
extern "C" void* _sbrk(int increment);              // newlib (libgloss)
#endif

int main() {
#if defined(KSR_HAVE_DEBUG_LOG_CALLBACK)
  RegisterDebugLogCallback(PrintDebugLog);
#endif
  tflite::InitializeTarget();

  // --- Setup, as in streaming_main.cc. ------------------------------------
  if (kTestFeatures != kFeatures || kTestOutputs != kOutputs) {
    return Fail("test_vectors.h does not match model_settings.h (features/outputs)");
  }

  const tflite::Model* model = tflite::GetModel(g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    printf("KSR error model schema version %d, this TFLM supports %d\n",
           static_cast<int>(model->version()), TFLITE_SCHEMA_VERSION);
    return kExitError;
  }

  static ModelOpResolver resolver;
  if (RegisterModelOps(resolver) != kTfLiteOk) {
    return Fail("RegisterModelOps() failed");
  }

  // Resource variables live in the arena: one allocator for them and for the
  // interpreter.
  tflite::MicroAllocator* allocator =
      tflite::MicroAllocator::Create(tensor_arena, kTensorArenaBytes);
  if (allocator == nullptr) return Fail("MicroAllocator::Create() failed");
  tflite::MicroResourceVariables* variables =
      tflite::MicroResourceVariables::Create(allocator, kResourceVariables);
  if (variables == nullptr) return Fail("MicroResourceVariables::Create() failed");

  static tflite::MicroInterpreter interpreter(model, resolver, allocator,
                                              variables);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    return Fail("AllocateTensors() failed (arena too small, too few resource "
                "variables, or an op missing)");
  }
  printf("KSR arena_used_bytes=%lu\n",
         static_cast<unsigned long>(interpreter.arena_used_bytes()));

  if (interpreter.inputs_size() != 1 || interpreter.outputs_size() != 1) {
    return Fail("the model does not have exactly one input and one output");
  }
  TfLiteTensor* input = interpreter.input(0);
  const TfLiteTensor* output = interpreter.output(0);
  if (input == nullptr || output == nullptr || input->type != kTfLiteInt8 ||
      output->type != kTfLiteInt8 ||
      input->bytes != sizeof(int8_t) * kTestFeatures ||
      output->bytes != sizeof(int8_t) * kTestOutputs) {
    return Fail("the model's input/output are not int8 of kTestFeatures/kTestOutputs values");
  }

#if defined(KSR_CORTEX_M)
  StartSysTick();
  const uint32_t calibration_ticks = CalibrateSysTick();
  if (calibration_ticks == 0) return Fail("SysTick does not count");
  // Rounded instructions per tick (40 with -icount shift=0 on mps2-an386).
  const uint32_t instructions_per_tick =
      (kCalibrationInstructions + calibration_ticks / 2) / calibration_ticks;
  printf("KSR systick_calibration loop_instructions=%lu ticks=%lu instructions_per_tick=%lu\n",
         static_cast<unsigned long>(kCalibrationInstructions),
         static_cast<unsigned long>(calibration_ticks),
         static_cast<unsigned long>(instructions_per_tick));
#endif

  // --- The test sequences. ------------------------------------------------
  long mismatched = 0;
  long compared = 0;
  int first_s = -1, first_t = -1, first_o = -1, first_got = 0, first_expected = 0;

  for (int s = 0; s < kTestSequences; ++s) {
    // New sequence: every state back to 0.
    if (interpreter.Reset() != kTfLiteOk) {
      printf("KSR error Reset() failed before sequence %d\n", s);
      return kExitError;
    }
    for (int t = 0; t < kTestSteps; ++t) {
      const int8_t* frame = &kTestInputs[(s * kTestSteps + t) * kTestFeatures];
      int8_t* in = input->data.int8;
      for (int f = 0; f < kTestFeatures; ++f) in[f] = frame[f];

#if defined(KSR_CORTEX_M)
      const uint32_t start = ReadSysTick();
#endif
      const TfLiteStatus status = interpreter.Invoke();
#if defined(KSR_CORTEX_M)
      const uint32_t stop = ReadSysTick();
      step_ticks[s * kTestSteps + t] = TicksBetween(start, stop);
#endif
      if (status != kTfLiteOk) {
        printf("KSR error Invoke() failed at sequence %d step %d\n", s, t);
        return kExitError;
      }

      const int8_t* got = output->data.int8;
      const int8_t* expected = &kTestExpected[(s * kTestSteps + t) * kTestOutputs];
      for (int o = 0; o < kTestOutputs; ++o) {
        ++compared;
        if (got[o] != expected[o]) {
          if (mismatched == 0) {
            first_s = s;
            first_t = t;
            first_o = o;
            first_got = got[o];
            first_expected = expected[o];
          }
          ++mismatched;
        }
      }
    }
  }

  if (mismatched > 0) {
    printf("KSR mismatch sequence=%d step=%d output=%d got=%d expected=%d\n",
           first_s, first_t, first_o, first_got, first_expected);
  }
  printf("KSR result sequences=%d steps=%d outputs=%ld mismatched=%ld\n",
         kTestSequences, kTestSequences * kTestSteps, compared, mismatched);

#if defined(KSR_CORTEX_M)
  // The MEDIAN over all steps of all sequences (not the mean), with the
  // minimum and maximum. The work per step depends a little on the data
  // (for the example models min and max are within 2% of the median).
  // Resolution: one tick = instructions_per_tick instructions; the two
  // SysTick reads add a few instructions.
  constexpr int kSteps = kTestSequences * kTestSteps;
  SortTicks(step_ticks, kSteps);
  const uint32_t median_ticks =
      (kSteps % 2 == 1) ? step_ticks[kSteps / 2]
                        : (step_ticks[kSteps / 2 - 1] + step_ticks[kSteps / 2]) / 2;
  printf("KSR instructions_per_step=%lu min=%lu max=%lu\n",
         static_cast<unsigned long>(median_ticks * instructions_per_tick),
         static_cast<unsigned long>(step_ticks[0] * instructions_per_tick),
         static_cast<unsigned long>(step_ticks[kSteps - 1] * instructions_per_tick));

  const char* heap_top = static_cast<const char*>(_sbrk(0));
  printf("KSR stack_used_bytes=%lu stack_size_bytes=%lu heap_used_bytes=%lu\n",
         static_cast<unsigned long>(ksr_stack_used_bytes()),
         static_cast<unsigned long>(ksr_stack_size_bytes()),
         static_cast<unsigned long>(heap_top - &end));
#endif

  return mismatched == 0 ? kExitOk : kExitMismatch;
}
