{
  "command": {
    "type": "Node",
    "name": "Command",
    "uniquename": "command",
    "pos": [
      0.0,
      0.0
    ],
    "path": [
      "shell",
      "Command"
    ],
    "terminals": {
      "command": {
        "value": "echo",
        "flipped": false,
        "opts": {
          "widget": "lineedit",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": "",
          "multiinput": false
        }
      },
      "args": {
        "value": [
          "hello world"
        ],
        "flipped": false,
        "opts": {
          "widget": "lineedit",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "None",
          "value": [],
          "multiinput": true
        }
      },
      "environment": {
        "value": {},
        "flipped": false,
        "opts": {
          "widget": null,
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'dict'>",
          "value": {},
          "multiinput": false
        }
      },
      "directory": {
        "value": "",
        "flipped": false,
        "opts": {
          "widget": "browse",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": "",
          "multiinput": false,
          "browsetype": "directory"
        }
      },
      "stdout": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": null,
          "multiinput": false
        }
      },
      "stderr": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": null,
          "multiinput": false
        }
      },
      "exitcode": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'int'>",
          "value": null,
          "multiinput": false
        }
      }
    },
    "tunnel": false,
    "forcerun": false,
    "hidden": false,
    "customState": null,
    "layer": 0
  },
  "string": {
    "type": "Node",
    "name": "String",
    "uniquename": "string",
    "pos": [
      0.0,
      260.0
    ],
    "path": [
      "types",
      "String"
    ],
    "terminals": {
      "string": {
        "value": "received: %s",
        "flipped": false,
        "opts": {
          "widget": "lineedit",
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": "",
          "multiinput": false
        }
      }
    },
    "tunnel": false,
    "forcerun": false,
    "hidden": false,
    "customState": null,
    "layer": 0
  },
  "command.0": {
    "type": "Node",
    "name": "Command",
    "uniquename": "command.0",
    "pos": [
      300.0,
      80.0
    ],
    "path": [
      "shell",
      "Command"
    ],
    "terminals": {
      "command": {
        "value": "printf",
        "flipped": false,
        "opts": {
          "widget": "lineedit",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": "",
          "multiinput": false
        }
      },
      "args": {
        "value": [],
        "flipped": false,
        "opts": {
          "widget": "lineedit",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "None",
          "value": [],
          "multiinput": true
        }
      },
      "environment": {
        "value": {},
        "flipped": false,
        "opts": {
          "widget": null,
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'dict'>",
          "value": {},
          "multiinput": false
        }
      },
      "directory": {
        "value": "",
        "flipped": false,
        "opts": {
          "widget": "browse",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": "",
          "multiinput": false,
          "browsetype": "directory"
        }
      },
      "stdout": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": null,
          "multiinput": false
        }
      },
      "stderr": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": null,
          "multiinput": false
        }
      },
      "exitcode": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'int'>",
          "value": null,
          "multiinput": false
        }
      }
    },
    "tunnel": false,
    "forcerun": false,
    "hidden": false,
    "customState": null,
    "layer": 0
  },
  "write text": {
    "type": "Node",
    "name": "Write Text",
    "uniquename": "write text",
    "pos": [
      600.0,
      80.0
    ],
    "path": [
      "files",
      "Write Text"
    ],
    "terminals": {
      "path": {
        "value": "out/hello.txt",
        "flipped": false,
        "opts": {
          "widget": "browse",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": "",
          "multiinput": false,
          "browsetype": "save"
        }
      },
      "text": {
        "value": "",
        "flipped": false,
        "opts": {
          "widget": "lineedit",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": "",
          "multiinput": false
        }
      },
      "file": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": null,
          "multiinput": false
        }
      }
    },
    "tunnel": false,
    "forcerun": false,
    "hidden": false,
    "customState": null,
    "layer": 0
  },
  "connection": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection",
    "line": "cubic",
    "input": [
      "string",
      "string"
    ],
    "output": [
      "command.0",
      "args"
    ],
    "controlpoints": []
  },
  "connection.0": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection.0",
    "line": "cubic",
    "input": [
      "command",
      "stdout"
    ],
    "output": [
      "command.0",
      "args"
    ],
    "controlpoints": []
  },
  "connection.1": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection.1",
    "line": "cubic",
    "input": [
      "command.0",
      "stdout"
    ],
    "output": [
      "write text",
      "text"
    ],
    "controlpoints": []
  }
}
