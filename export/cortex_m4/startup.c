/* Startup code for the firmware kit on a Cortex-M4F, as emulated by QEMU's
 * `-M mps2-an386` board (Arm MPS2 FPGA image AN386).
 *
 * It is deliberately small and board-agnostic: a vector table with the 16
 * Cortex-M system exceptions (no device interrupts are used), and a
 * Reset_Handler that
 *   1. enables the FPU (CPACR, CP10/CP11 full access) before any code that
 *      might use a floating-point register runs (-mfloat-abi=hard code may do
 *      so anywhere, including in newlib and in C++ constructors),
 *   2. copies .data from flash to RAM and zeroes .bss,
 *   3. fills the unused stack with a pattern, so that the firmware can report
 *      the stack high-water mark (ksr_stack_used_bytes()),
 *   4. opens newlib's semihosting stdin/stdout/stderr
 *      (initialise_monitor_handles(); normally rdimon-crt0.o does this, but
 *      we link with -nostartfiles),
 *   5. runs the static constructors (__libc_init_array),
 *   6. calls main() and passes its return value to exit(), which, with
 *      --specs=rdimon.specs, ends the program through a semihosting
 *      SYS_EXIT(_EXTENDED) call: QEMU (-semihosting) exits with that code.
 * Faults, unexpected exceptions and abort() print a "KSR error" line with the
 * faulting PC / caller address and exit with code 2 (see fatal()).
 *
 * Symbols come from mps2_an386.ld. */

#include <stdint.h>
#include <stdlib.h>

extern uint32_t _sidata; /* load address of .data (in flash) */
extern uint32_t _sdata, _edata; /* .data in RAM */
extern uint32_t _sbss, _ebss; /* .bss */
extern uint32_t __StackLimit, __StackTop;

extern int main(void);
extern void __libc_init_array(void);
extern void initialise_monitor_handles(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void ksr_fault_with_frame(const uint32_t* frame);

/* Exceptions nobody handles end the program with exit code 2 and a
 * "KSR error" line (see fatal()). The firmware may override any of these. */
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("HardFault_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

typedef void (*VectorEntry)(void);

/* The vector table: at address 0, where the mps2-an386 reset reads the
 * initial stack pointer and the reset vector (VTOR resets to 0). */
__attribute__((section(".isr_vector"), used))
const VectorEntry g_vector_table[16] = {
    (VectorEntry)&__StackTop, /* initial main stack pointer */
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0, /* reserved */
    SVC_Handler,
    DebugMon_Handler,
    0, /* reserved */
    PendSV_Handler,
    SysTick_Handler,
};

#define KSR_CPACR (*(volatile uint32_t*)0xE000ED88u)
#define KSR_STACK_PAINT 0xA5A5A5A5u

/* Semihosting call (ARM "Angel" interface, BKPT 0xAB in Thumb state). Used
 * directly in the fault handlers, which must not rely on newlib's state. */
static int semihost_call(int op, const void* arg) {
  register int r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

/* Ends the program with exit code 2 and a "KSR error" line, without newlib
 * (used for faults and abort(), when newlib's state may be broken). */
__attribute__((noreturn)) static void fatal(const char* message, uint32_t address) {
  static char line[96];
  const char* prefix = "KSR error ";
  char* p = line;
  while (*prefix != '\0') *p++ = *prefix++;
  while (*message != '\0' && p < line + sizeof(line) - 14) *p++ = *message++;
  *p++ = ' ';
  *p++ = '0';
  *p++ = 'x';
  for (int shift = 28; shift >= 0; shift -= 4) {
    *p++ = "0123456789abcdef"[(address >> shift) & 0xFu];
  }
  *p++ = '\n';
  *p = '\0';
  /* To the program's stdout (QEMU sends SYS_WRITE0 text to its stderr):
   * SYS_OPEN(":tt", mode "w") gives the host's stdout, then SYS_WRITE. */
  static const char tt[] = ":tt";
  const uint32_t open_args[3] = {(uint32_t)tt, 4u /* "w" */, 3u};
  const int handle = semihost_call(0x01 /* SYS_OPEN */, open_args);
  if (handle >= 0) {
    const uint32_t write_args[3] = {(uint32_t)handle, (uint32_t)line,
                                    (uint32_t)(p - line)};
    semihost_call(0x05 /* SYS_WRITE */, write_args);
  } else {
    semihost_call(0x04 /* SYS_WRITE0 */, line);
  }
  /* SYS_EXIT_EXTENDED (0x20): reason ADP_Stopped_ApplicationExit, code 2. */
  static const uint32_t args[2] = {0x20026u, 2u};
  semihost_call(0x20, args);
  /* If that is not supported: SYS_EXIT with another reason (exit code 1). */
  semihost_call(0x18, (const void*)0x20023u /* ADP_Stopped_InternalError */);
  for (;;) {
  }
}

/* Faults: the address is that of the faulting instruction (the stacked PC;
 * look it up with arm-none-eabi-addr2line -e firmware.elf). */
__attribute__((naked)) void HardFault_Handler(void) {
  __asm__ volatile(
      "tst lr, #4\n\t"
      "ite eq\n\t"
      "mrseq r0, msp\n\t"
      "mrsne r0, psp\n\t"
      "b ksr_fault_with_frame\n\t");
}

void ksr_fault_with_frame(const uint32_t* frame) {
  fatal("fault (HardFault/MemManage/BusFault/UsageFault) at pc", frame[6]);
}

void Default_Handler(void) {
  uint32_t ipsr;
  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
  fatal("unexpected exception, number", ipsr & 0x1FFu);
}

/* newlib's abort() raises SIGABRT, which rdimon turns into a semihosting
 * exit with a "runtime error" reason: QEMU exits with 1, the code for a
 * mismatch. TFLM calls abort() when an internal check fails (TFLITE_ABORT),
 * so say so and exit with 2 like any other error. */
void abort(void) {
  fatal("abort() called (a TFLM check failed?) from", (uint32_t)__builtin_return_address(0));
}

void _init(void) {}
void _fini(void) {}

/* Also from crtbegin.o: the handle with which C++ registers destructors of
 * static objects (__aeabi_atexit); there is only one "DSO" here. */
void* __dso_handle = 0;

/* The copy loops must not become memcpy/memset calls (GCC recognises the
 * pattern): nothing from the C library runs before .data/.bss are set up. */
__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns")))
void Reset_Handler(void) {
  /* 1. FPU: CP10 and CP11 full access (bits 20..23), then let the write take
   * effect before the next instruction. */
  KSR_CPACR |= (0xFu << 20);
  __asm__ volatile("dsb\n\tisb" ::: "memory");

  /* 2. .data and .bss. */
  const uint32_t* src = &_sidata;
  for (uint32_t* dst = &_sdata; dst < &_edata;) *dst++ = *src++;
  for (uint32_t* dst = &_sbss; dst < &_ebss;) *dst++ = 0;

  /* 3. Paint the stack below the current frame (keep 64 bytes of margin). */
  uint32_t* sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (volatile uint32_t* p = &__StackLimit; p < sp - 16;) *p++ = KSR_STACK_PAINT;

  /* 4.-6. */
  initialise_monitor_handles();
  __libc_init_array();
  exit(main());
}

/* Bytes of stack that were written at least once since reset: the distance
 * from the top of the stack to the lowest word that lost the paint. */
uint32_t ksr_stack_used_bytes(void) {
  const uint32_t* p = &__StackLimit;
  while (p < &__StackTop && *p == KSR_STACK_PAINT) ++p;
  return (uint32_t)((const char*)&__StackTop - (const char*)p);
}

uint32_t ksr_stack_size_bytes(void) {
  return (uint32_t)((const char*)&__StackTop - (const char*)&__StackLimit);
}
