// A simulation model of the Lattice ECP5 MULT18X18D for the Verilog simulations of an
// exported core (accel.gateware.cells): Yosys ships the cell as a black box only.
//
// It models the part of the cell the core uses, as Lattice's ECP5 sysDSP usage guide
// (FPGA-TN-02205) describes it: an 18 x 18 multiplier, signed or unsigned per operand
// (SIGNEDA, SIGNEDB), with optional registers on input A, input B, the pipeline and the
// output, each clocked by CLK0 (or not at all: "NONE"), enabled by CE0 and cleared
// synchronously by RST0. Its ports are those the core connects (the cell's C input,
// shift chains, cascade outputs and other clocks, enables and resets are not modelled);
// a parameter asking for what is not modelled stops the simulation at time 0.
module MULT18X18D(A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0, B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0, SIGNEDA, SIGNEDB, CLK0, CE0, RST0, P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0);
    input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0;
    input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0;
    input SIGNEDA, SIGNEDB, CLK0, CE0, RST0;
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0;

    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    initial begin
        if ((REG_INPUTA_CLK != "NONE" && REG_INPUTA_CLK != "CLK0")
                || (REG_INPUTB_CLK != "NONE" && REG_INPUTB_CLK != "CLK0")
                || (REG_PIPELINE_CLK != "NONE" && REG_PIPELINE_CLK != "CLK0")
                || (REG_OUTPUT_CLK != "NONE" && REG_OUTPUT_CLK != "CLK0")
                || REG_INPUTA_CE != "CE0" || REG_INPUTB_CE != "CE0"
                || REG_PIPELINE_CE != "CE0" || REG_OUTPUT_CE != "CE0"
                || REG_INPUTA_RST != "RST0" || REG_INPUTB_RST != "RST0"
                || REG_PIPELINE_RST != "RST0" || REG_OUTPUT_RST != "RST0"
                || REG_INPUTC_CLK != "NONE" || HIGHSPEED_CLK != "NONE"
                || MULT_BYPASS != "DISABLED" || RESETMODE != "SYNC") begin
            $display("MULT18X18D model: a configuration it does not model");
            $finish;
        end
    end

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    reg [17:0] a_reg = 0, b_reg = 0;
    reg sa_reg = 0, sb_reg = 0;
    reg [35:0] pipe_reg = 0, out_reg = 0;

    wire [17:0] a_in = REG_INPUTA_CLK == "NONE" ? a : a_reg;
    wire [17:0] b_in = REG_INPUTB_CLK == "NONE" ? b : b_reg;
    wire sa = REG_INPUTA_CLK == "NONE" ? SIGNEDA : sa_reg;
    wire sb = REG_INPUTB_CLK == "NONE" ? SIGNEDB : sb_reg;
    wire [35:0] a_ext = {{18{sa & a_in[17]}}, a_in};
    wire [35:0] b_ext = {{18{sb & b_in[17]}}, b_in};
    wire [35:0] product = a_ext * b_ext;
    wire [35:0] piped = REG_PIPELINE_CLK == "NONE" ? product : pipe_reg;

    always @(posedge CLK0) begin
        if (RST0) begin
            a_reg <= 0;
            b_reg <= 0;
            sa_reg <= 0;
            sb_reg <= 0;
            pipe_reg <= 0;
            out_reg <= 0;
        end else if (CE0) begin
            a_reg <= a;
            b_reg <= b;
            sa_reg <= SIGNEDA;
            sb_reg <= SIGNEDB;
            pipe_reg <= product;
            out_reg <= piped;
        end
    end

    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = REG_OUTPUT_CLK == "NONE" ? piped : out_reg;
endmodule
