#!/usr/bin/env python3
"""Writes the shipped robot models (YAML and URDF, same numbers) from the tables below.

Run from anywhere: python3 inputs/robots/make_robot_files.py. The files it writes are
ours; the parameters come from the published sources named at each table. Values are
written with full precision so the YAML and URDF forms describe the same arm.
"""
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def rot_x(a):
    c, s = math.cos(a), math.sin(a)
    return [[1, 0, 0], [0, c, -s], [0, s, c]]


def mat_vec(m, v):
    return [sum(m[i][k] * v[k] for k in range(3)) for i in range(3)]


def rotate_inertia(r, i6):
    """R I R^T for I given as [ixx, iyy, izz, ixy, ixz, iyz]."""
    ixx, iyy, izz, ixy, ixz, iyz = i6
    i = [[ixx, ixy, ixz], [ixy, iyy, iyz], [ixz, iyz, izz]]
    ri = [[sum(r[a][k] * i[k][b] for k in range(3)) for b in range(3)] for a in range(3)]
    o = [[sum(ri[a][k] * r[b][k] for k in range(3)) for b in range(3)] for a in range(3)]
    return [o[0][0], o[1][1], o[2][2], o[0][1], o[0][2], o[1][2]]


def cylinder(mass, radius, length, axis):
    """Uniform solid cylinder about its centre; axis 'x' or 'z'."""
    axial = 0.5 * mass * radius ** 2
    trans = mass * (3 * radius ** 2 + length ** 2) / 12.0
    if axis == "x":
        return [axial, trans, trans, 0.0, 0.0, 0.0]
    return [trans, trans, axial, 0.0, 0.0, 0.0]


def clean(x):
    return 0.0 if abs(x) < 1e-15 else x


def fmt(v):
    return "[" + ", ".join(repr(clean(x)) for x in v) + "]"


def planar2():
    # Textbook two-link planar arm (Spong, Hutchinson, Vidyasagar, "Robot Modeling and
    # Control", 2006, sec. 7.4): two uniform 1 m, 1 kg links moving in the vertical x-y
    # plane (axes along z, gravity along -y), so M, C and g have the book's closed form.
    joints = []
    for i in range(2):
        joints.append(dict(name="shoulder" if i == 0 else "elbow", xyz=[0.0, 0.0, 0.0] if i == 0 else [1.0, 0.0, 0.0],
                           rpy=[0.0, 0.0, 0.0], axis=[0.0, 0.0, 1.0], mass=1.0, com=[0.5, 0.0, 0.0],
                           inertia=[1e-3, 1.0 / 12.0, 1.0 / 12.0, 0.0, 0.0, 0.0],
                           lower=-math.pi, upper=math.pi, velocity=10.0, effort=50.0, damping=0.0, armature=0.0))
    return dict(name="planar2", gravity=[0.0, -9.81, 0.0], tool_xyz=[1.0, 0.0, 0.0], tool_rpy=[0.0, 0.0, 0.0],
                joints=joints,
                comment="Two-link planar arm (Spong/Hutchinson/Vidyasagar 2006, sec. 7.4): 1 m, 1 kg links in the "
                        "vertical x-y plane, gravity along -y.")


def ur5():
    # Universal Robots UR5 (6 joints): standard DH parameters, link masses and centres of
    # mass as published by Universal Robots ("DH parameters for calculations of kinematics
    # and dynamics", universal-robots.com). UR publishes no inertia tensors there: ours are
    # uniform-cylinder approximations of each link. Limits from the UR5 datasheet (+-360 deg,
    # 180 deg/s; 150 N m base/shoulder/elbow, 28 N m wrists). Damping and armature: ours.
    d = [0.089159, 0.0, 0.0, 0.10915, 0.09465, 0.0823]
    a = [0.0, -0.425, -0.39225, 0.0, 0.0, 0.0]
    alpha = [math.pi / 2, 0.0, 0.0, math.pi / 2, -math.pi / 2, 0.0]
    mass = [3.7, 8.393, 2.275, 1.219, 1.219, 0.1879]
    com_dh = [[0.0, -0.02561, 0.00193], [0.2125, 0.0, 0.11336], [0.15, 0.0, 0.0265],
              [0.0, -0.0018, 0.01634], [0.0, 0.0018, 0.01634], [0.0, 0.0, -0.001159]]
    shapes = [(0.06, 0.15, "z"), (0.06, 0.425, "x"), (0.05, 0.39225, "x"), (0.045, 0.12, "z"), (0.045, 0.12, "z"),
              (0.04, 0.03, "z")]
    effort = [150.0, 150.0, 150.0, 28.0, 28.0, 28.0]
    damping = [0.5, 0.5, 0.5, 0.1, 0.1, 0.1]
    armature = [0.1, 0.1, 0.1, 0.02, 0.02, 0.02]
    names = ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3"]
    joints = []
    for i in range(6):
        # Standard DH: T = Rz(q_i) Tz(d_i) Tx(a_i) Rx(alpha_i). Our link frame i is DH frame
        # i-1 turned by q_i, so joint i's origin is the previous row's fixed part and the
        # DH-frame centre of mass/inertia move through this row's fixed part.
        xyz = [0.0, 0.0, 0.0] if i == 0 else [a[i - 1], 0.0, d[i - 1]]
        rpy = [0.0, 0.0, 0.0] if i == 0 else [alpha[i - 1], 0.0, 0.0]
        r = rot_x(alpha[i])
        com = [x + y for x, y in zip([a[i], 0.0, d[i]], mat_vec(r, com_dh[i]))]
        inertia = rotate_inertia(r, cylinder(mass[i], *shapes[i]))
        joints.append(dict(name=names[i], xyz=xyz, rpy=rpy, axis=[0.0, 0.0, 1.0], mass=mass[i], com=com, inertia=inertia,
                           lower=-2 * math.pi, upper=2 * math.pi, velocity=math.pi, effort=effort[i],
                           damping=damping[i], armature=armature[i]))
    return dict(name="ur5", gravity=[0.0, 0.0, -9.81], tool_xyz=[a[5], 0.0, d[5]], tool_rpy=[alpha[5], 0.0, 0.0],
                joints=joints,
                comment="Universal Robots UR5 class: DH, masses, centres of mass from Universal Robots' published DH "
                        "table; inertias ours (uniform cylinders); limits from the UR5 datasheet.")


def panda():
    # Franka Emika Panda (7 joints): modified (Craig) DH parameters and joint limits from
    # Franka's published "Robot and interface specifications"; link masses, centres of mass
    # and inertia tensors after Gaz, Cognetti, Oliva, Robuffo Giordano, De Luca, "Dynamic
    # identification of the Franka Emika Panda robot with retrieval of feasible parameters
    # using penalty-based optimization", IEEE RA-L 4(4), 2019 (rounded). Damping and
    # armature: ours.
    a = [0.0, 0.0, 0.0, 0.0825, -0.0825, 0.0, 0.088]
    d = [0.333, 0.0, 0.316, 0.0, 0.384, 0.0, 0.0]
    alpha = [0.0, -math.pi / 2, math.pi / 2, math.pi / 2, -math.pi / 2, math.pi / 2, math.pi / 2]
    mass = [4.970684, 0.646926, 3.228604, 3.587895, 1.225946, 1.666555, 0.735522]
    com = [[0.003875, 0.002081, -0.04762], [-0.003141, -0.02872, 0.003495], [0.027518, 0.039252, -0.066502],
           [-0.05317, 0.104419, 0.027454], [-0.011953, 0.041065, -0.038437], [0.060149, -0.014117, -0.010517],
           [0.010517, -0.004252, 0.061597]]
    inertia = [[0.70337, 0.70661, 0.0091170, -0.00013900, 0.0067720, 0.019169],
               [0.0079620, 0.028110, 0.025995, -0.0039250, 0.010254, 0.00070400],
               [0.037242, 0.036155, 0.010830, -0.0047610, -0.011396, -0.012805],
               [0.025853, 0.019552, 0.028323, 0.0077960, -0.0013320, 0.0086410],
               [0.035549, 0.029474, 0.0086270, -0.0021170, -0.0040370, 0.00022900],
               [0.0019640, 0.0043540, 0.0054330, 0.00010900, -0.0011580, 0.00034100],
               [0.012516, 0.010027, 0.0048150, -0.00042800, -0.0011960, -0.00074100]]
    lower = [-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973]
    upper = [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973]
    velocity = [2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61]
    effort = [87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0]
    damping = [0.2, 0.2, 0.2, 0.2, 0.05, 0.05, 0.05]
    armature = [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05]
    joints = []
    for i in range(7):
        # Modified DH: T = Rx(alpha_i) Tx(a_i) Rz(q_i) Tz(d_i); Rz and Tz commute, so the
        # fixed origin is Rx(alpha) Tx(a) Tz(d) and the link frame is DH frame i.
        xyz = [a[i], -d[i] * math.sin(alpha[i]), d[i] * math.cos(alpha[i])]
        joints.append(dict(name="panda_joint%d" % (i + 1), xyz=xyz, rpy=[alpha[i], 0.0, 0.0], axis=[0.0, 0.0, 1.0],
                           mass=mass[i], com=com[i], inertia=inertia[i], lower=lower[i], upper=upper[i],
                           velocity=velocity[i], effort=effort[i], damping=damping[i], armature=armature[i]))
    return dict(name="panda", gravity=[0.0, 0.0, -9.81], tool_xyz=[0.0, 0.0, 0.107], tool_rpy=[0.0, 0.0, 0.0],
                joints=joints,
                comment="Franka Emika Panda class: modified DH and limits from Franka's published specifications; "
                        "masses, centres of mass, inertias after Gaz et al., IEEE RA-L 2019; damping/armature ours.")


def write_yaml(robot, path):
    lines = ["# " + robot["comment"], "# Generated by make_robot_files.py; edit the tables there.", "robot:",
             "  name: " + robot["name"], "  gravity: " + fmt(robot["gravity"]),
             "  tool: {xyz: %s, rpy: %s}" % (fmt(robot["tool_xyz"]), fmt(robot["tool_rpy"])), "  joints:"]
    for j in robot["joints"]:
        lines += ["    - name: " + j["name"], "      type: revolute", "      xyz: " + fmt(j["xyz"]),
                  "      rpy: " + fmt(j["rpy"]), "      axis: " + fmt(j["axis"]), "      mass: " + repr(j["mass"]),
                  "      com: " + fmt(j["com"]), "      inertia: " + fmt(j["inertia"]),
                  "      lower: " + repr(j["lower"]), "      upper: " + repr(j["upper"]),
                  "      velocity: " + repr(j["velocity"]), "      effort: " + repr(j["effort"]),
                  "      damping: " + repr(j["damping"]), "      armature: " + repr(j["armature"])]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_urdf(robot, path):
    def v(x):
        return " ".join(repr(clean(t)) for t in x)

    out = ['<?xml version="1.0"?>', "<!-- " + robot["comment"] + " -->",
           "<!-- Generated by make_robot_files.py. URDF has no armature: give it in the deck's robot block. -->",
           '<robot name="%s">' % robot["name"], '  <link name="base_link"/>']
    parent = "base_link"
    for k, j in enumerate(robot["joints"]):
        link = "link%d" % (k + 1)
        i = j["inertia"]
        out += ['  <link name="%s">' % link, "    <inertial>", '      <origin xyz="%s" rpy="0 0 0"/>' % v(j["com"]),
                '      <mass value="%r"/>' % j["mass"],
                '      <inertia ixx="%r" iyy="%r" izz="%r" ixy="%r" ixz="%r" iyz="%r"/>' % tuple(clean(t) for t in i),
                "    </inertial>", "  </link>",
                '  <joint name="%s" type="revolute">' % j["name"], '    <parent link="%s"/>' % parent,
                '    <child link="%s"/>' % link, '    <origin xyz="%s" rpy="%s"/>' % (v(j["xyz"]), v(j["rpy"])),
                '    <axis xyz="%s"/>' % v(j["axis"]),
                '    <limit lower="%r" upper="%r" effort="%r" velocity="%r"/>' % (j["lower"], j["upper"], j["effort"],
                                                                                  j["velocity"]),
                '    <dynamics damping="%r" friction="0"/>' % j["damping"], "  </joint>"]
        parent = link
    out += ['  <link name="tool0"/>', '  <joint name="tool" type="fixed">', '    <parent link="%s"/>' % parent,
            '    <child link="tool0"/>',
            '    <origin xyz="%s" rpy="%s"/>' % (v(robot["tool_xyz"]), v(robot["tool_rpy"])), "  </joint>",
            "</robot>"]
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    for robot in (planar2(), ur5(), panda()):
        write_yaml(robot, os.path.join(HERE, robot["name"] + ".yaml"))
        write_urdf(robot, os.path.join(HERE, robot["name"] + ".urdf"))
